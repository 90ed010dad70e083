"""The same case report form model under three audit trails, for ``audit_peers``."""
