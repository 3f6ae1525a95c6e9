"""Bank files as a Swiss bank writes them (camt.054 credit notifications, camt.053 statements,
versions .001.04 and .001.08, after the Swiss Payment Standards implementation guidelines): built
from a few parts so that tests and benchmarks can say which credits a file holds."""

from __future__ import annotations


def tx(bank_ref: str, amount: str, *, reference: str | None = None, scheme: str = "QRR", payer: str | None = None,
       note: str | None = None, version: int = 8) -> str:
    party = (f"<Dbtr><Pty><Nm>{payer}</Nm></Pty></Dbtr>" if version == 8 else f"<Dbtr><Nm>{payer}</Nm></Dbtr>"
             ) if payer else ""
    ref_type = "<Prtry>QRR</Prtry>" if scheme == "QRR" else "<Cd>SCOR</Cd>"
    remittance = ""
    if reference:
        remittance = (f"<RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry>{ref_type}</CdOrPrtry></Tp><Ref>{reference}</Ref>"
                      "</CdtrRefInf></Strd></RmtInf>")
    elif note:
        remittance = f"<RmtInf><Ustrd>{note}</Ustrd></RmtInf>"
    return (f"<TxDtls><Refs><AcctSvcrRef>{bank_ref}</AcctSvcrRef></Refs>"
            f"<Amt Ccy=\"CHF\">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
            f"<RltdPties>{party}</RltdPties>{remittance}</TxDtls>")


def entry(amount: str, details: list[str], *, direction: str = "CRDT", status: str = "BOOK", booked: str = "2026-12-01",
          entry_ref: str = "E-1", version: int = 8) -> str:
    sts = f"<Sts><Cd>{status}</Cd></Sts>" if version == 8 else f"<Sts>{status}</Sts>"
    return (f"<Ntry><Amt Ccy=\"CHF\">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd>{sts}"
            f"<BookgDt><Dt>{booked}</Dt></BookgDt><ValDt><Dt>{booked}</Dt></ValDt>"
            f"<AcctSvcrRef>{entry_ref}</AcctSvcrRef><BkTxCd/>"
            f"<NtryDtls>{''.join(details)}</NtryDtls></Ntry>")


def camt054(*entries: str, version: int = 8) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.0{version}">'
            f"<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>N-1</MsgId><CreDtTm>2026-12-01T18:00:00</CreDtTm></GrpHdr>"
            f"<Ntfctn><Id>N-1-1</Id><Acct><Id><IBAN>CH4431999123000889012</IBAN></Id></Acct>{''.join(entries)}"
            f"</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>").encode()


def camt053(*entries: str, version: int = 4) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.0{version}">'
            f"<BkToCstmrStmt><GrpHdr><MsgId>S-1</MsgId><CreDtTm>2026-12-31T23:00:00</CreDtTm></GrpHdr>"
            f"<Stmt><Id>S-1-1</Id><Acct><Id><IBAN>CH4431999123000889012</IBAN></Id></Acct>"
            f"<Bal><Amt Ccy=\"CHF\">100.00</Amt></Bal>{''.join(entries)}</Stmt></BkToCstmrStmt></Document>").encode()
