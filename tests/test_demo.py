"""The README's demo command replays a service day on the real kiosk core, then keeps the parents'
portal open for a demo family."""

import re
import signal
import subprocess
import sys

import requests

TOKEN = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def test_the_demo_replays_a_service_day_and_its_ledger_checks_out(run, tmp_path):
    result = run("demo", "--data", str(tmp_path / "demo"), "--no-window", "--exit", "--at", "2031-03-01T12:00+01:00")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Refectory — lundi 3 mars 2031" in out  # a Saturday at noon: the replay is on Monday
    assert "Rapport de caisse du lundi 3 mars 2031 — borne DEMO-K1" in out
    assert "Annulé : CHF 100.00 pour Zoé Rochat ; nouveau solde CHF 0.00." in out
    assert "Pas assez d'argent : va à la caisse." in out and "Solde CHF 0.00 · repas CHF 7.00" in out
    assert "✔ Léa · Bon appétit !" in out and "Solde CHF 13.00" in out
    assert "Repas spécial : Sans gluten" in out
    assert "Reçu d'annulation n° 4 : rendre CHF 100.00." in out
    assert "Espèces nettes : CHF 80.00" in out
    assert "chaque solde égale la somme de ses écritures" in out
    # The kiosk got its pupils from the demo server and sent it the day's operations.
    assert "Borne DEMO-K1 enrôlée auprès du serveur http://localhost:" in out
    assert "Synchronisation : 8 enregistrements envoyés au serveur, 8 nouveaux." in out
    assert "Le serveur et la borne s'accordent sur chaque solde." in out
    assert (tmp_path / "demo" / "kiosk.db").exists()
    # Taps went through the virtual reader; receipts came out of the virtual printer.
    assert "│ Reçu de recharge" in out and "│ Restaurant scolaire des Tilleuls" in out
    receipts = tmp_path / "demo" / "receipts"
    assert len(list(receipts.glob("receipt-*.txt"))) == 6  # four top-ups, one cancellation, the report
    assert len(list(receipts.glob("receipt-*.png"))) == 6
    assert (receipts / "drawer.log").read_text(encoding="utf-8").count("drawer kick") == 5


def test_the_demo_makes_its_folder_again_but_never_empties_one_it_did_not_make(run, tmp_path):
    kiosk = tmp_path / "kiosk"  # a real kiosk's data folder, given by mistake
    kiosk.mkdir()
    (kiosk / "kiosk.db").write_bytes(b"the ledger")
    (kiosk / "kiosk-backup.tar").write_bytes(b"a backup")
    refused = run("demo", "--data", str(kiosk), "--no-window", "--exit")
    assert refused.exit_code == 1 and "contient déjà des fichiers que la démo n’a pas créés" in refused.stderr
    assert sorted(p.name for p in kiosk.iterdir()) == ["kiosk-backup.tar", "kiosk.db"]
    for _ in range(2):  # the demo's own folder, made again at each run
        again = run("demo", "--data", str(tmp_path / "demo"), "--no-window", "--exit")
        assert again.exit_code == 0, again.output
    assert len(list((tmp_path / "demo" / "receipts").glob("receipt-*.txt"))) == 6


def test_the_demo_keeps_the_portal_open_for_the_printed_family_login_until_ctrl_c(tmp_path):
    demo = subprocess.Popen([sys.executable, "-m", "refectory", "demo", "--data", str(tmp_path / "demo"),
                             "--no-window"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in demo.stdout:
            lines.append(line)
            if "Ctrl+C" in line:
                break
        out = "".join(lines)
        url = re.search(r"Portail des parents : (http://localhost:\d+/)", out).group(1)
        login, password = re.search(r"identifiant (\S+), mot de passe (\S+)", out).groups()
        http = requests.Session()
        token = TOKEN.search(http.get(url + "login").text).group(1)
        home = http.post(url + "login", data={"csrf_token": token, "login": login, "password": password})
        assert home.status_code == 200 and "Vos enfants" in home.text
        assert "Léa" in home.text and "Zoé" in home.text and "CHF 13.00" in home.text  # Léa, after the replay's sync
        topup = re.search(r'href="(/children/[^"]+/topup)"', home.text).group(1)
        assert "CH44 3199 9123 0008 8901 2" in http.get(url.rstrip("/") + topup).text  # the demo's QR-bill account
        # The portal's time follows the replay's service (its meals at 11:5x), not the hour the demo runs at.
        assert re.search(r"synchronisation des caisses\W+\w+ \d+ \w+ \d{4} à 15:1\d", re.sub(r"<[^>]+>", "", home.text))
        manage, manager, secret = re.search(r"Administration : (\S+), identifiant (\S+), mot de passe (\S+)",
                                            out).groups()
        office = requests.Session()
        token = TOKEN.search(office.get(manage + "login").text).group(1)
        overview = office.post(manage + "login", data={"csrf_token": token, "login": manager, "password": secret})
        assert overview.status_code == 200 and "Vue d'ensemble" in overview.text.replace("&#39;", "'")
        assert re.search(r"caissier·ère caisse1, code PIN 2580 ; les commandes du serveur prennent"
                         r" --instance \S+/server", out)
    finally:
        demo.send_signal(signal.SIGINT)
        assert demo.wait(120) == 0
        demo.stdout.close()


def test_the_demos_portal_pays_online_through_its_local_payment_provider(tmp_path):
    demo = subprocess.Popen([sys.executable, "-m", "refectory", "demo", "--data", str(tmp_path / "demo"),
                             "--no-window"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out = ""
        for line in demo.stdout:
            out += line
            if "Ctrl+C" in line:
                break
        url = re.search(r"Portail des parents : (http://localhost:\d+/)", out).group(1)
        login, password = re.search(r"identifiant (\S+), mot de passe (\S+)", out).groups()
        http = requests.Session()
        token = TOKEN.search(http.get(url + "login").text).group(1)
        http.post(url + "login", data={"csrf_token": token, "login": login, "password": password})
        form = http.get(url + "children/P001/pay").text
        provider = http.post(url + "children/P001/pay", data={
            "csrf_token": TOKEN.search(form).group(1), "amount": "20", "method": "TWI", "terms": "y"})
        assert provider.url.startswith("http://127.0.0.1:") and "CHF 20.00" in provider.text  # the stand-in's page
        result = http.post(provider.url, data={"action": "pay"})  # back to the portal, credited
        assert result.url.startswith(url + "payments/") and "CHF 33.00" in result.text  # CHF 13.00 + 20.00
    finally:
        demo.send_signal(signal.SIGINT)
        assert demo.wait(120) == 0
        demo.stdout.close()
