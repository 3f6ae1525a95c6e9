"""Menu lines: the 14 declared allergens and the labels a menu file may carry."""

from __future__ import annotations

import pytest

from domain.menus import ALLERGENS, MenuLineError, origin_of, parse_allergens, parse_labels


def test_the_fourteen_allergens_of_swiss_food_law_are_known_by_code():
    assert len(ALLERGENS) == 14
    assert parse_allergens(" Milk, gluten ,celery") == ["milk", "gluten", "celery"]
    assert parse_allergens("") == []


def test_an_unknown_allergen_is_named_in_the_refusal():
    with pytest.raises(MenuLineError, match="Unknown allergen 'peanut'"):
        parse_allergens("gluten,peanut")


@pytest.mark.parametrize("label, origin", [("origin: bœuf Suisse", "bœuf Suisse"), ("Origin : poulet Brésil",
                                                                                   "poulet Brésil"),
                                           ("vegetarian", None), ("origin:", None)])
def test_a_meat_origin_is_read_from_its_label(label, origin):
    assert origin_of(label) == origin


def test_labels_are_vegetarian_vegan_or_an_origin_and_anything_else_is_refused():
    assert parse_labels("vegetarian; origin: porc Suisse") == ["vegetarian", "origin: porc Suisse"]
    with pytest.raises(MenuLineError, match="Unknown label 'bio'"):
        parse_labels("vegan; bio")
