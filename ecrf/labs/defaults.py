"""Common adult reference ranges; each site replaces them with its laboratory's own."""

from __future__ import annotations

from decimal import Decimal

#: analyte -> (unit, low, high)
DEFAULT_RANGES = {
    "systolic_bp": ("mmHg", Decimal("90"), Decimal("139")),
    "diastolic_bp": ("mmHg", Decimal("50"), Decimal("89")),
    "creatinine": ("mg/dL", Decimal("0.46"), Decimal("0.79")),
    "potassium": ("mmol/L", Decimal("3.6"), Decimal("4.8")),
    "glucose": ("mg/dL", Decimal("73"), Decimal("109")),
    "magnesium": ("mg/dL", Decimal("1.8"), Decimal("2.6")),
}
