"""The operator CLI: exit codes, JSON fields, French messages, and bad input that changes nothing."""

import json

import pytest

from .conftest import snapshot

AT = "2026-11-30T12:05"  # Zurich wall-clock time, a Monday


def as_json(result):
    return json.loads(result.stdout)


def test_init_creates_a_kiosk_and_refuses_to_rename_it(run, tmp_path):
    data = str(tmp_path / "k")
    assert run("kiosk", "init", "--data", data, "--kiosk-id", "K7").exit_code == 0
    assert run("kiosk", "init", "--data", data, "--kiosk-id", "K7").exit_code == 0  # idempotent
    result = run("kiosk", "init", "--data", data, "--kiosk-id", "K8")
    assert result.exit_code == 1 and "appartient déjà à la borne « K7 »" in result.stderr


def test_init_with_a_bad_kiosk_id_leaves_no_database_behind(run, tmp_path):
    result = run("kiosk", "init", "--data", str(tmp_path / "k"), "--kiosk-id", "K 1/../x")
    assert result.exit_code == 1 and "n'est pas un identifiant de borne" in result.stderr, result.stderr
    assert not (tmp_path / "k").exists()


def test_commands_on_a_folder_without_kiosk_say_to_run_init(run, tmp_path):
    result = run("kiosk", "tap", "--data", str(tmp_path / "none"), "04A1B2C3")
    assert result.exit_code == 1 and "refectory kiosk init" in result.stderr


def test_a_service_day_through_the_cli(run, kiosk_dir):
    data = str(kiosk_dir)
    refused = run("kiosk", "tap", "--data", data, "04a1b2c3", "--at", AT, "--json")
    assert refused.exit_code == 2
    assert as_json(refused)["reason"] == "insufficient_balance"
    assert as_json(refused)["message"] == "Pas assez d'argent : va à la caisse."
    assert as_json(refused)["balance_line"] == "Solde CHF 0.00 · repas CHF 7.00"

    topup = run("kiosk", "topup", "--data", data, "--cashier", "anne", "--pin", "1234", "--uid", "04a1b2c3",
                "--amount", "20,50", "--at", AT, "--json")
    assert topup.exit_code == 0
    body = as_json(topup)
    assert body["receipt_no"] == 1 and body["amount_cents"] == 2050 and body["balance_cents"] == 2050

    served = run("kiosk", "tap", "--data", data, "04A1B2C3", "--at", AT, "--json")
    assert served.exit_code == 0
    body = as_json(served)
    assert {k: body[k] for k in ("served", "reason", "pupil_id", "price_cents", "balance_cents")} == {
        "served": True, "reason": None, "pupil_id": "P001", "price_cents": 700, "balance_cents": 1350}
    assert (body["first_name"], body["message"], body["balance_line"]) == ("Léa", "Bon appétit !", "Solde CHF 13.50")
    assert "Solde bas : dis-le à tes parents." in body["hints"]

    again = run("kiosk", "tap", "--data", data, "04A1B2C3", "--at", "2026-11-30T12:09")
    assert again.exit_code == 2 and "✘ Léa · Tu as déjà mangé aujourd'hui à 12:05." in again.stdout

    balance = run("kiosk", "balance", "--data", data, "--pupil", "P001", "--json")
    assert as_json(balance)["balance_cents"] == 1350

    reverse = run("kiosk", "reverse", "--data", data, "--cashier", "anne", "--pin", "1234", "--entry",
                  body["entry_id"], "--reason", "erreur", "--at", "2026-11-30T12:10", "--json")
    assert reverse.exit_code == 0 and as_json(reverse)["balance_cents"] == 2050

    report = run("kiosk", "report", "--data", data, "--date", "2026-11-30", "--json")
    assert report.exit_code == 0
    assert as_json(report)["cashiers"][0]["net_cents"] == 2050
    text = run("kiosk", "report", "--data", data, "--date", "2026-11-30").stdout
    assert "Espèces nettes : CHF 20.50" in text


def test_english_is_available(run, kiosk_dir):
    result = run("--lang", "en", "kiosk", "tap", "--data", str(kiosk_dir), "04A1B2C3", "--at", AT)
    assert result.exit_code == 2
    assert "✘ Léa · Not enough money: go to the cashier.\n  Balance CHF 0.00 · meal CHF 7.00" in result.stdout
    report = run("--lang", "en", "kiosk", "report", "--data", str(kiosk_dir), "--date", "2026-11-30")
    assert report.stdout.startswith("Cash report Monday, November 30, 2026 — kiosk K1")  # the day too


@pytest.mark.parametrize(
    ("amount", "message"),
    [("-5", "Le montant doit être positif"), ("0", "supérieur à zéro"), ("1e9", "n'est pas un montant"),
     ("12.345", "plus de deux décimales"), ("abc", "n'est pas un montant"), ("100000", "maximum est de CHF 500.00"),
     ("2", "minimum est de CHF 5.00"), ("10.02", "multiple de 0.05")],
)
def test_bad_amounts_are_refused_with_a_clear_message_and_nothing_changes(run, kiosk_dir, amount, message):
    before = snapshot(kiosk_dir)
    result = run("kiosk", "topup", "--data", str(kiosk_dir), "--cashier", "anne", "--pin", "1234",
                 "--pupil", "P001", "--amount", amount)
    assert result.exit_code == 1
    assert message in result.stderr
    assert snapshot(kiosk_dir) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--cashier", "anne", "--pin", "0000", "--pupil", "P001"], "code PIN incorrect"),
     (["--cashier", "nobody", "--pin", "1234", "--pupil", "P001"], "code PIN incorrect"),
     (["--cashier", "anne", "--pin", "1234", "--pupil", "P999"], "Élève inconnu·e « P999 »"),
     (["--cashier", "anne", "--pin", "1234", "--uid", "CAFEBABE"], "Badge inconnu CAFEBABE"),
     (["--cashier", "anne", "--pin", "1234"], "soit --uid, soit --pupil")],
)
def test_a_top_up_with_a_wrong_pin_or_unknown_pupil_is_refused_and_nothing_changes(run, kiosk_dir, args, message):
    before = snapshot(kiosk_dir)
    result = run("kiosk", "topup", "--data", str(kiosk_dir), "--amount", "20", *args)
    assert result.exit_code == 1 and message in result.stderr
    assert snapshot(kiosk_dir) == before


def test_errors_are_also_reported_as_json(run, kiosk_dir):
    result = run("kiosk", "topup", "--data", str(kiosk_dir), "--cashier", "anne", "--pin", "1234",
                 "--pupil", "P001", "--amount", "abc", "--json")
    assert result.exit_code == 1
    assert as_json(result) == {"ok": False, "error": "invalid_amount",
                               "message": "« abc » n'est pas un montant : écrivez-le comme 20, 20.50 ou 20,50."}


def test_a_usage_error_exits_1_not_2_so_it_is_never_mistaken_for_a_refusal(run, kiosk_dir):
    assert run("kiosk", "tap", "--data", str(kiosk_dir)).exit_code == 1
    assert run("kiosk", "tap", "--data", str(kiosk_dir), "not-a-uid").exit_code == 1


def test_a_malformed_roster_is_reported_line_by_line_and_nothing_is_imported(run, kiosk_dir, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id\n"
        "P010,Tom,Blanc,3A,primary,11223344,,F9\n"
        "P011,,Gris,3A,primary,,,F9\n"
        "P012,Eva,Vert,3A,wizard,,,F9\n"
        "P013,Jo,Noir,3A,primary,11223344,,F9\n"
        "P014,Al,Brun,3A,primary,ZZZZ,,F9\n"
        "P015,Lu,Roux,3A,primary,04A1B2C3,,F9\n"
        "P010,Tom,Blanc,3A,primary,,,F9\n"
        "P016,too,few\n"
        'P017,"Léa\nBcc: x@example.ch",Blanc,3A,primary,,,F9\n',
        encoding="utf-8",
    )
    before = snapshot(kiosk_dir)
    result = run("kiosk", "import-pupils", "--data", str(kiosk_dir), str(bad))
    assert result.exit_code == 1
    errors = result.stderr
    assert "ligne 3 : first_name est vide." in errors
    assert "ligne 4 : Catégorie inconnue « wizard »" in errors
    assert "ligne 5 : Le badge 11223344 figure déjà à la ligne 2." in errors
    assert "ligne 6 : « ZZZZ » n'est pas un identifiant de badge" in errors
    assert "ligne 7 : Le badge 04A1B2C3 appartient déjà à l'élève P001." in errors
    assert "ligne 8 : pupil_id « P010 » figure déjà à la ligne 2." in errors
    assert "ligne 9 : Nombre de champs incorrect" in errors
    assert "ligne 10 : first_name contient un saut de ligne ou un autre caractère de contrôle." in errors
    assert "rien n'a été importé" in errors
    assert snapshot(kiosk_dir) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"pupil_id,first_name\nP1,A\n", "Colonnes manquantes : last_name, class, category, badge_uid, diet, family_id"),
     (b"pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id\nP1,L\xe9a,M,5A,primary,,,\n",
      "pas du texte UTF-8"),
     (b"pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id\n", "aucune ligne")],
)
def test_a_roster_that_is_not_a_usable_csv_is_refused(run, kiosk_dir, tmp_path, content, message):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    before = snapshot(kiosk_dir)
    result = run("kiosk", "import-pupils", "--data", str(kiosk_dir), str(bad))
    assert result.exit_code == 1 and message in result.stderr
    assert snapshot(kiosk_dir) == before


HEADER = b"pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id\n"


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "Le fichier {path} n’existe pas."),
     (HEADER + b"P1,Ana,M,5A,primary,,,\n" + b'P2,"' + b"x" * 200_000 + b'",M,5A,primary,,,\n',
      "ligne 3 : Une cellule contient plus de 131072 caractères."),
     (HEADER + b"P1,L\xe9a,M,5A,primary,,,\n", "ligne 2 : Le fichier n'est pas du texte UTF-8 (octet 5).")],
    ids=["missing", "huge cell", "latin-1"],
)
def test_a_roster_problem_names_the_line_it_is_on_or_the_file_in_french(run, kiosk_dir, tmp_path, content, problem):
    roster = tmp_path / "roster.csv"
    if content is not None:
        roster.write_bytes(content)
    result = run("kiosk", "import-pupils", "--data", str(kiosk_dir), str(roster))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[1] == "  " + problem.format(path=roster)
    as_text = run("kiosk", "import-pupils", "--data", str(kiosk_dir), str(roster), "--json")
    line = as_json(as_text)["errors"][0]["line"]
    assert line == (None if content is None else int(problem.split()[1]))


def test_reimporting_a_roster_updates_pupils_and_replaces_a_changed_badge(run, kiosk_dir, tmp_path):
    update = tmp_path / "update.csv"
    update.write_text(
        "\ufeffpupil_id,first_name,last_name,class,category,badge_uid,diet,family_id\n"
        "P001,Léa,Müller,6A,primary,04AABBCC,Végétarienne,F01\n",
        encoding="utf-8",
    )
    result = run("kiosk", "import-pupils", "--data", str(kiosk_dir), str(update), "--json")
    assert as_json(result) == {"ok": True, "created": 0, "updated": 1, "badges": 1}
    old = run("kiosk", "tap", "--data", str(kiosk_dir), "04A1B2C3", "--at", AT, "--json")
    assert as_json(old)["reason"] == "badge_disabled"
    new = run("kiosk", "tap", "--data", str(kiosk_dir), "04AABBCC", "--at", AT, "--json")
    assert as_json(new)["reason"] == "insufficient_balance" and as_json(new)["pupil_id"] == "P001"


def test_settings_are_validated_before_they_are_stored(run, kiosk_dir):
    data = str(kiosk_dir)
    set_price = run("kiosk", "settings", "set", "--data", data, "price.primary", "7,5")
    assert set_price.stdout.strip() == "price.primary = 7.50"
    assert run("kiosk", "settings", "set", "--data", data, "service.start", "11:30").exit_code == 0
    before = snapshot(kiosk_dir)
    for key, value, message in [
        ("price.primary", "abc", "n'est pas un montant"),
        ("service.end", "25:00", "n'est pas une heure"),
        ("service.end", "11:00", "service.start doit précéder service.end"),
        ("topup.min", "600", "ne peut pas dépasser topup.max"),
        ("colour", "blue", "Réglage inconnu « colour »"),
        ("reservation.required", "peut-être", "doit valoir true ou false"),
    ]:
        result = run("kiosk", "settings", "set", "--data", data, key, value)
        assert result.exit_code == 1 and message in result.stderr, (key, value, result.stderr)
    assert snapshot(kiosk_dir) == before
    shown = as_json(run("kiosk", "settings", "show", "--data", data, "--json"))["settings"]
    assert shown["price.primary"] == "7.50" and shown["service.start"] == "11:30"


def test_a_new_category_price_lets_the_roster_use_it(run, kiosk_dir, tmp_path):
    data = str(kiosk_dir)
    assert run("kiosk", "settings", "set", "--data", data, "price.kindergarten", "5.50").exit_code == 0
    roster = tmp_path / "k.csv"
    roster.write_text("pupil_id,first_name,last_name,class,category,badge_uid,diet,family_id\n"
                      "K001,Mia,Rey,1E,kindergarten,0102030405,,F5\n", encoding="utf-8")
    assert run("kiosk", "import-pupils", "--data", data, str(roster)).exit_code == 0
    run("kiosk", "topup", "--data", data, "--cashier", "anne", "--pin", "1234", "--pupil", "K001", "--amount", "10")
    assert as_json(run("kiosk", "tap", "--data", data, "0102030405", "--at", AT, "--json"))["price_cents"] == 550


def test_cashier_add_rejects_a_pin_that_is_not_4_to_8_digits(run, kiosk_dir):
    result = run("kiosk", "cashier", "add", "--data", str(kiosk_dir), "--id", "zoe", "--name", "Zoé", "--pin", "12")
    assert result.exit_code == 1 and "4 à 8 chiffres" in result.stderr


def test_every_command_documents_itself(run):
    from refectory.cli import cli

    def walk(group, path):
        for name, command in group.commands.items():
            yield [*path, name], command
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])

    for path, command in walk(cli, []):
        assert command.help, f"refectory {' '.join(path)} has no help text"
        assert run(*path, "--help").exit_code == 0


def test_exporting_the_roster_again_never_brings_a_lost_badge_back(run, kiosk_dir, roster_file):
    from domain.meals import BadgeStatus
    from kiosk.store import Store

    from .conftest import MONDAY_NOON

    with Store.open(kiosk_dir) as store, store.transaction():
        store.set_badge_status("04A1B2C3", BadgeStatus.LOST, MONDAY_NOON)
    result = run("kiosk", "import-pupils", "--data", str(kiosk_dir), str(roster_file), "--json")
    assert as_json(result) == {"ok": True, "created": 0, "updated": 4, "badges": 0}
    tap = run("kiosk", "tap", "--data", str(kiosk_dir), "04A1B2C3", "--at", AT, "--json")
    assert as_json(tap)["reason"] == "badge_disabled"
