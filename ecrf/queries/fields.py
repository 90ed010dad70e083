"""The forms a query can be raised on, and their fields as the API spells them."""

from __future__ import annotations

from ecrf.participants.services import ELIGIBILITY_ANSWER_FIELDS

#: API contract: `record` is a form code, `field` a field name of that form.
QUERYABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "eligibility": (*ELIGIBILITY_ANSWER_FIELDS, "th1_th2_sample_date", "th1_th2_laboratory"),
    "consent": ("consent_date", "consent_version"),
    "embryo_transfer": (
        "et_date",
        "performed",
        "embryos_transferred",
        "embryo_stage",
        "embryo_grade",
    ),
    "dose": ("date", "dose_mg", "taken", "capsules", "time_taken", "comment"),
    "biochemical_pregnancy": ("assessed_on", "serum_hcg_miu_ml", "result"),
    "clinical_pregnancy": (
        "assessed_on",
        "transvaginal_ultrasound",
        "gestational_sac_seen",
        "number_of_sacs",
        "fetal_heartbeat",
        "ectopic_pregnancy",
        "result",
        "followup_study_consent",
    ),
    "safety_lab": ("measured_on", "value"),
    "adverse_event": (
        "term",
        "onset_date",
        "end_date",
        "ctcae_grade",
        "serious",
        "seriousness_criteria",
        "related",
        "action_taken",
        "outcome",
    ),
}

#: Forms a participant has at most one of (the others need the record's id).
SINGLE_RECORD_FORMS = {
    "eligibility": "eligibility",
    "consent": "consent",
    "embryo_transfer": "embryo_transfer",
    "biochemical_pregnancy": "biochemical_pregnancy",
    "clinical_pregnancy": "clinical_pregnancy",
}
MULTI_RECORD_FORMS = {
    "dose": "doses",
    "adverse_event": "adverse_events",
    "safety_lab": "lab_results",
}
