"""What a menu line may say: the 14 allergens Swiss law lists, and labels (vegetarian, origin).

Swiss food law (like the EU's annex II) names 14 allergens that a canteen must declare, and the
country of origin of the meat it serves. A menu file names allergens by these codes, and labels
as `vegetarian`, `vegan` or `origin: <meat> <country>`, separated by commas / semicolons.
"""

from __future__ import annotations

import re

from .messages import N_, RefectoryError

ALLERGENS: dict[str, str] = {
    "gluten": N_("Cereals containing gluten"),
    "crustaceans": N_("Crustaceans"),
    "eggs": N_("Eggs"),
    "fish": N_("Fish"),
    "peanuts": N_("Peanuts"),
    "soy": N_("Soy"),
    "milk": N_("Milk (lactose)"),
    "nuts": N_("Nuts"),
    "celery": N_("Celery"),
    "mustard": N_("Mustard"),
    "sesame": N_("Sesame"),
    "sulphites": N_("Sulphites"),
    "lupin": N_("Lupin"),
    "molluscs": N_("Molluscs"),
}
LABELS: dict[str, str] = {"vegetarian": N_("Vegetarian"), "vegan": N_("Vegan")}
_ORIGIN = re.compile(r"origin\s*:\s*(\S.*)", re.IGNORECASE)


class MenuLineError(RefectoryError):
    code = "invalid_menu"


def parse_allergens(text: str) -> list[str]:
    codes = [part.strip().lower() for part in (text or "").split(",") if part.strip()]
    unknown = [code for code in codes if code not in ALLERGENS]
    if unknown:
        raise MenuLineError(N_("Unknown allergen '{code}'; use {known}."), code=unknown[0], known=", ".join(ALLERGENS))
    return codes


def parse_labels(text: str) -> list[str]:
    labels = [part.strip() for part in (text or "").split(";") if part.strip()]
    for label in labels:
        if label.lower() not in LABELS and origin_of(label) is None:
            raise MenuLineError(N_("Unknown label '{label}'; use vegetarian, vegan or 'origin: beef Switzerland'."),
                                label=label)
    return labels


def origin_of(label: str) -> str | None:
    """`origin: beef Switzerland` → `beef Switzerland`; None for any other label."""
    found = _ORIGIN.fullmatch(label.strip())
    return found.group(1).strip() if found else None
