"""The tacrolimus trial as the platform first hosts it (../shared/protocol.md)."""

from __future__ import annotations

STUDY_CODE = "TAC-RI"
TITLE_EN = (
    "Oral tacrolimus for refractory infertility with a Th1-dominant immune state: "
    "a multicenter, two-dose, single-group controlled trial"
)
TITLE_JA = (
    "Th1優位の細胞性免疫を示す重症不妊症に対するタクロリムス経口投与の多施設共同2用量単群比較試験"
)
REGISTRY_ID = "jRCTs031220235"
TARGET_ENROLLMENT = 26

#: The five participating hospitals (code, English name, Japanese name).
SITES = [
    ("S01", "National Center for Child Health and Development", "国立成育医療研究センター"),
    ("S02", "Tokyo Medical University Hospital", "東京医科大学病院"),
    ("S03", "University of Yamanashi Hospital", "山梨大学医学部附属病院"),
    ("S04", "The University of Tokyo Hospital", "東京大学医学部附属病院"),
    ("S05", "Sugiyama Clinic", "杉山産婦人科"),
]

#: Allocation 2:1 to low dose (2 mg/day) and high dose (4 mg/day).
ARMS = [
    # code, English, Japanese, mg/day, weight
    ("low", "Low dose, 2 mg/day", "低用量 2 mg/日", "2", 2),
    ("high", "High dose, 4 mg/day", "高用量 4 mg/日", "4", 1),
]
BLOCK_SIZES = [3, 6]
CONSENT_VERSIONS = ["1.0"]

#: The visits of the protocol, counted from the embryo transfer (day 0):
#: code, English, Japanese, target day, window opens, window closes.
VISITS = [
    (
        "biochemical_pregnancy",
        "Biochemical pregnancy (serum hCG)",
        "生化学的妊娠（血中hCG）",
        14,
        14,
        16,
    ),
    (
        "clinical_pregnancy",
        "Clinical pregnancy (ultrasound)",
        "臨床的妊娠（経腟超音波）",
        21,
        21,
        28,
    ),
]

#: Dosing from two days before the embryo transfer (ET-2), 16 days, through ET+13.
DOSING_START_OFFSET = -2
DOSING_DAYS = 16
#: Prograf 1 mg capsules after breakfast and after dinner.
CAPSULE_MG = "1"
INTAKES_PER_DAY = 2

#: The efficacy analysis: each arm against a 5% threshold rate, one-sided, 0.0125 per arm.
EFFICACY_NULL_RATE = "0.05"
EFFICACY_ALPHA = "0.0125"
