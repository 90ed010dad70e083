"""The SDTM submission package: SDTMIG 3.4 domains as Dataset-JSON v1.1 or SAS XPT v5,
with their Define-XML 2.1, derived from the study's data and the form catalogue.

:mod:`.spec` declares every dataset, variable and codelist once; :mod:`.queries`
derives each domain's rows in PostgreSQL; :mod:`.define` writes define.xml from the
same declaration; :mod:`.package` writes the zip.
"""
