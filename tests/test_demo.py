"""The README's demo command replays a service day on the real kiosk core."""


def test_the_demo_replays_a_service_day_and_its_ledger_checks_out(run, tmp_path):
    result = run("demo", "--data", str(tmp_path / "demo"), "--no-window")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Solde insuffisant : CHF 0.00 — repas CHF 7.00" in out
    assert "Bon appétit, Léa — solde CHF 13.00" in out
    assert "Repas spécial : Sans gluten" in out
    assert "Reçu d'annulation n° 4 : rendre CHF 100.00." in out
    assert "Espèces nettes : CHF 80.00" in out
    assert "chaque solde égale la somme de ses écritures" in out
    # The kiosk got its pupils from the demo server and sent it the day's operations.
    assert "Borne DEMO-K1 enrôlée auprès du serveur http://127.0.0.1:" in out
    assert "Synchronisation : 8 enregistrement(s) envoyé(s) au serveur, 8 nouveau(x)." in out
    assert "Le serveur et la borne s'accordent sur chaque solde." in out
    assert (tmp_path / "demo" / "kiosk.db").exists()
    # Taps went through the virtual reader; receipts came out of the virtual printer.
    assert "│ Reçu de recharge" in out and "│ Restaurant scolaire des Tilleuls" in out
    receipts = tmp_path / "demo" / "receipts"
    assert len(list(receipts.glob("receipt-*.txt"))) == 6  # four top-ups, one cancellation, the report
    assert len(list(receipts.glob("receipt-*.png"))) == 6
    assert (receipts / "drawer.log").read_text(encoding="utf-8").count("drawer kick") == 5
