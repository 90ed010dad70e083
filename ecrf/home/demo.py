"""The demonstration users and data of ``make run`` (never in production)."""

from __future__ import annotations

DEMO_PASSWORD = "Tacrolimus-Demo-2026"  # noqa: S105  (published in README, refused in production)

#: username, role, sites, printed name, language
DEMO_USERS = [
    ("coordinator1", "coordinator", ["S01"], "佐藤 花子", "ja"),
    ("coordinator2", "coordinator", ["S02"], "鈴木 美咲", "ja"),
    ("investigator1", "investigator", ["S01"], "田中 一郎", "ja"),
    ("monitor1", "monitor", ["S01", "S02"], "Emily Clarke", "en"),
    ("datamanager1", "data_manager", [], "高橋 直子", "ja"),
    ("statistician1", "statistician", [], "Kenji Watanabe", "en"),
    ("admin1", "admin", [], "山本 亮", "ja"),
]

#: site, screening date offset (days before today), birth date
DEMO_PARTICIPANTS = [
    ("S01", 20, "1990-04-12"),
    ("S01", 12, "1988-11-03"),
    ("S01", 3, "1992-07-25"),
    ("S02", 9, "1987-01-30"),
]
