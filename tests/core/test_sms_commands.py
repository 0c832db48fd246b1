"""SMS commands on the pure core (fake clock): forms, errors, indications,
storage and what goes to the SMS centre."""

from __future__ import annotations

from harness import OK, Harness, block

from sim800emu.core.config import ModemConfig
from sim800emu.core.events import (
    Fault,
    SaveSettings,
    SaveSim,
    SimContents,
    SmsIncoming,
    SmsSent,
    SmsStatus,
)
from sim800emu.core.sms import pdu as P

T0 = 1_796_000_000.0  # 2026-11-30 ... UTC
SCTS = "26/11/30,00:53:20+00"


def sent(h: Harness) -> list[SmsSent]:
    h.take()
    return [r for r in h.requests if isinstance(r, SmsSent)]


def incoming(h: Harness, text: str, sender: str = "+8613900000001") -> bytes:
    return h.handle(SmsIncoming(sender, text, T0))


def test_cmgf_answers_error_until_sms_ready_after_a_reboot() -> None:
    h = Harness(ModemConfig(cold_boot=True))
    assert h.at("AT+CMGF=1") == b"\r\nERROR\r\n"
    assert h.at("AT+CMEE=2") == OK
    assert h.at("AT+CPMS?") == b"\r\n+CMS ERROR: SIM busy\r\n"
    assert b"SMS Ready" in h.run_timers()
    assert h.at("AT+CMGF=1") == OK
    assert h.at("AT+CMGF?") == block("+CMGF: 1") + OK


def test_text_mode_send_prompt_ctrl_z_and_esc() -> None:
    h = Harness()
    h.at("AT+CMGF=1")
    assert h.at('AT+CMGS="+8613912345678"') == b"\r\n> "
    assert h.feed(b"Hi\x1a") == block("+CMGS: 0") + OK
    assert h.at('AT+CMGS="123"') == b"\r\n> "
    assert h.feed(b"never sent\x1b") == OK
    [msg] = sent(h)
    assert (msg.to, msg.text, msg.encoding, msg.parts, msg.reference) == (
        "+8613912345678", "Hi", "gsm7", 1, 0)


def test_text_past_the_limit_and_bad_pdus_answer_cms_errors() -> None:
    h = Harness()
    h.at("AT+CMEE=1")
    h.at("AT+CMGF=1")
    h.at('AT+CMGS="123"')
    assert h.feed(b"x" * 161 + b"\x1a") == b"\r\n+CMS ERROR: 305\r\n"
    h.at("AT+CMGF=0")
    good = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    for length, pdu in ((22, good), (23, good[:-2]), (23, good[:-1] + "Z"), (23, "0004" + good[4:])):
        assert h.at(f"AT+CMGS={length}") == b"\r\n> "
        assert h.feed(pdu.encode() + b"\x1a") == b"\r\n+CMS ERROR: 304\r\n", (length, pdu)
    assert h.at("AT+CMGS=23") == b"\r\n> "
    assert h.feed(good.encode() + b"\x1a") == block("+CMGS: 0") + OK
    assert h.at('AT+CMGS="123"') == b"\r\nERROR\r\n"  # PDU mode wants a length
    assert sent(h)[0].text == "hellohello"


def test_concatenated_submit_reaches_the_centre_once_whole_with_status_reports() -> None:
    h = Harness()
    h.at("AT+CMGF=0")
    h.at("AT+CNMI=2,1,0,1,0")
    body = P.to_septets("A" * 200)
    parts = P.split_body(body, P.GSM7)
    for seq, part in enumerate(parts, 1):
        s = P.Submit("+8613912345678", 145, part, 0, udh=P.concat_header(9, 2, seq), srr=True)
        tpdu = s.encode()
        h.at(f"AT+CMGS={len(tpdu)}")
        assert h.feed(b"00" + tpdu.hex().encode() + b"\x1a") == block(f"+CMGS: {seq - 1}") + OK
        assert len(sent(h)) == (seq // 2)
    [msg] = sent(h)
    assert (msg.text, msg.parts, msg.reference, msg.report) == ("A" * 200, 2, 9, (0, 1))
    out = h.handle(SmsStatus(0, "+8613912345678", T0))
    assert out.startswith(b"\r\n+CDS: 26\r\n0891")
    h.at("AT+CMGF=1")
    assert h.handle(SmsStatus(1, "+8613912345678", T0)) == block(
        f'+CDS: 6,1,"+8613912345678",145,"{SCTS}","{SCTS}",0')


def test_status_reports_are_routed_per_cnmi_ds() -> None:
    """<ds> 0 drops a report, 1 shows +CDS (PDU and text mode, CSDH has no
    say), 2 is refused (manual 4.2.8 lists 0 and 1 only); CNMI <mode> 0
    buffers +CDS like +CMTI; there is no "SR" storage to count (4.2.9)."""
    h = Harness()
    h.at("AT+CMGF=1")
    report = SmsStatus(7, "+8613912345678", T0)
    cds = f'+CDS: 6,7,"+8613912345678",145,"{SCTS}","{SCTS}",0'
    assert h.handle(report) == b""  # <ds> 0 (the default)
    assert h.at("AT+CNMI=2,1,0,2,0") == b"\r\nERROR\r\n"
    assert h.at("AT+CNMI?") == block("+CNMI: 2,1,0,0,0") + OK
    assert h.at("AT+CNMI=2,1,0,1,0") == OK
    assert h.handle(report) == block(cds)
    h.at("AT+CSDH=1")
    assert h.handle(report) == block(cds)
    h.at("AT+CMGF=0")
    out = h.handle(report)
    assert out.startswith(b"\r\n+CDS: 26\r\n") and out.endswith(b"00\r\n")
    tpdu = bytes.fromhex(out.split(b"\r\n")[2].decode())[9:]  # after the centre's address
    decoded = P.decode_tpdu(tpdu)
    assert isinstance(decoded, P.StatusReport) and (decoded.mr, decoded.ra, decoded.st) == (7, "+8613912345678", 0)
    h.at("AT+CMGF=1")
    assert h.at("AT+CNMI=0,1,0,1,0") == OK
    assert h.handle(report) == b""  # buffered
    assert h.at("AT+CNMI=2,1,0,1,0") == OK + block(cds)  # <bfr> 0: given out after OK
    assert h.at("AT+CNMI=0,1,0,1,0") == OK
    h.handle(report)
    assert h.at("AT+CNMI=2,1,0,1,1") == OK  # <bfr> 1: dropped
    assert h.at('AT+CPMS="SR"') == b"\r\nERROR\r\n"
    assert h.at("AT+CPMS?") == block('+CPMS: "SM",0,50,"SM",0,50,"SM",0,50') + OK


def test_incoming_store_read_list_delete_in_text_mode() -> None:
    h = Harness()
    h.at("AT+CMGF=1")
    assert incoming(h, "Hello") == block('+CMTI: "SM",1')
    assert h.at("AT+CMGR=1") == block(
        f'+CMGR: "REC UNREAD","+8613900000001","","{SCTS}"', "Hello") + OK
    h.at("AT+CSDH=1")
    assert h.at("AT+CMGR=1,1") == block(
        f'+CMGR: "REC READ","+8613900000001","","{SCTS}",145,4,0,0,"+8613800200500",145,5',
        "Hello") + OK
    assert h.at('AT+CMGL="REC UNREAD"') == OK
    assert h.at('AT+CMGL="ALL"') == block(
        f'+CMGL: 1,"REC READ","+8613900000001","","{SCTS}",145,5', "Hello") + OK
    h.at("AT+CMEE=1")
    assert h.at("AT+CMGR=51") == b"\r\n+CMS ERROR: 321\r\n"
    assert h.at("AT+CMGR=2") == OK  # an empty place
    assert h.at('AT+CMGL="NEW"') == b"\r\n+CMS ERROR: 305\r\n"
    assert h.at("AT+CMGD=?") == block("+CMGD: (1),(0-4)") + OK
    assert h.at("AT+CMGD=1") == OK
    assert h.at("AT+CPMS?") == block('+CPMS: "SM",0,50,"SM",0,50,"SM",0,50') + OK


def test_long_incoming_text_arrives_in_concatenated_parts_ucs2() -> None:
    h = Harness()
    text = "Привет " * 20  # 140 characters: UCS2, three parts of at most 67
    assert incoming(h, text) == b"".join(block(f'+CMTI: "SM",{i}') for i in (1, 2, 3))
    got = ""
    for i in (1, 2, 3):
        pdu_hex = h.at(f"AT+CMGR={i}").split(b"\r\n")[2].decode()
        _sca, _toa, tpdu = P.decode_sca(bytes.fromhex(pdu_hex))
        d = P.decode_tpdu(tpdu)
        assert isinstance(d, P.Deliver) and P.concat_info(d.udh) == (1, 3, i)
        got += P.text_of(d.body, d.alphabet)
    assert got == text


def test_cnmi_routing_and_buffering() -> None:
    h = Harness()
    h.at("AT+CMGF=1")
    h.at("AT+CNMI=2,2")
    assert incoming(h, "direct") == block(f'+CMT: "+8613900000001","","{SCTS}"', "direct")
    h.at("AT+CMGF=0")
    out = incoming(h, "pdu")
    assert out.startswith(b'\r\n+CMT: "",') and b"\r\n0891" in out
    assert h.at("AT+CPMS?") == block('+CPMS: "SM",0,50,"SM",0,50,"SM",0,50') + OK
    h.at("AT+CNMI=0,1")
    assert incoming(h, "held") == b""
    assert h.at("AT+CNMI=1,1,0,0,0") == OK + block('+CMTI: "SM",1')
    h.at("AT+CNMI=0,1")
    incoming(h, "cleared")
    assert h.at("AT+CNMI=2,1,0,0,1") == OK
    # mode 2: held while a message is being typed, given after it
    h.at("AT+CMGF=1")
    assert h.at('AT+CMGW="1"') == b"\r\n> "
    assert incoming(h, "later") == b""
    assert h.feed(b"x\x1a") == block("+CMGW: 4") + OK + block('+CMTI: "SM",3')


def test_storage_full_keeps_messages_until_room_is_made() -> None:
    h = Harness()
    h.at("AT+CMEE=1")
    for _ in range(50):
        incoming(h, "m")
    assert incoming(h, "waiting") == b""
    h.at("AT+CMGF=1")
    h.at('AT+CMGW="1"')
    assert h.feed(b"x\x1a") == b"\r\n+CMS ERROR: 322\r\n"
    assert h.at("AT+CMGD=1") == OK + block('+CMTI: "SM",1')
    assert h.at("AT+CMGR=1").split(b"\r\n")[2] == b"waiting"
    assert h.at('AT+CMGDA="DEL ALL"') == OK
    assert h.at("AT+CPMS?") == block('+CPMS: "SM",0,50,"SM",0,50,"SM",0,50') + OK


def test_write_send_from_storage_and_delflags() -> None:
    h = Harness()
    h.at("AT+CMGF=1")
    h.at('AT+CPMS="ME","ME","ME"')
    assert h.at('AT+CMGW="+8613912345678",145,"STO UNSENT"') == b"\r\n> "
    assert h.feed(b"stored\x1a") == block("+CMGW: 1") + OK
    assert h.at("AT+CMSS=1") == block("+CMSS: 0") + OK
    assert h.at("AT+CMSS=1,\"5550001\"") == block("+CMSS: 1") + OK
    assert [(m.to, m.text) for m in sent(h)] == [("+8613912345678", "stored"),
                                                 ("5550001", "stored")]
    assert h.at("AT+CMGL=\"STO SENT\"") == block('+CMGL: 1,"STO SENT","+8613912345678",""', "stored") + OK
    incoming(h, "read me")
    h.at("AT+CMGR=2")
    assert h.at("AT+CMGD=1,1") == OK  # read ones go
    assert h.at("AT+CMGD=?") == block("+CMGD: (1),(0-4)") + OK
    assert h.at("AT+CMGD=1,4") == OK
    assert h.at("AT+CPMS?") == block('+CPMS: "ME",0,150,"ME",0,150,"ME",0,150') + OK


def test_settings_forms() -> None:
    h = Harness()
    assert h.at("AT+CNMI=?") == block("+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)") + OK
    assert h.at("AT+CNMI=2,1,0,2") == b"\r\nERROR\r\n"
    assert h.at("AT+CSMP=49,167,0,8") == OK
    assert h.at("AT+CSMP?") == block("+CSMP: 49,167,0,8") + OK
    assert h.at("AT+CSMS=1") == block("+CSMS: 1,1,1") + OK
    assert h.at("AT+CSMS?") == block("+CSMS: 1,1,1,1") + OK
    assert h.at('AT+CSCA="+447700900000"') == OK
    assert h.at("AT+CSCA?") == block('+CSCA: "+447700900000",145') + OK
    assert h.at('AT+CPMS="XX"') == b"\r\nERROR\r\n"
    assert h.at("AT+CMGL=?") == block("+CMGL: (0-4)") + OK
    assert h.at("AT+CMGDA=?") == block("+CMGDA: (1-6)") + OK


def test_sim_content_persists_through_save_requests() -> None:
    h = Harness()
    incoming(h, "keep me")
    saves = [r for r in h.requests if isinstance(r, SaveSim)]
    assert saves
    fresh = Harness()
    fresh.handle(SimContents(saves[-1].data))
    fresh.at("AT+CMGF=1")
    assert fresh.at("AT+CMGR=1").split(b"\r\n")[2] == b"keep me"


def test_cmgf_and_cnmi_are_in_the_at_w_profile() -> None:
    h = Harness()
    assert h.at("AT+CMGF=1;+CNMI=1,2,0,1,0;&W") == OK
    save = next(r for r in h.requests if isinstance(r, SaveSettings))
    assert (save.settings["cmgf"], save.settings["cnmi_mt"]) == (1, 2)
    assert h.at("AT+CMGF=0;+CNMI=2,1,0,0,0") == OK
    assert h.at("ATZ") == OK  # the saved profile again (with echo on)
    h.at("ATE0")
    assert h.at("AT+CMGF?;+CNMI?") == block("+CMGF: 1") + block("+CNMI: 1,2,0,1,0") + OK
    assert h.at("AT&F") == OK
    h.at("ATE0")
    assert h.at("AT+CMGF?;+CNMI?") == block("+CMGF: 0") + block("+CNMI: 2,1,0,0,0") + OK


def _in_data_mode(cnmi: str) -> Harness:
    h = Harness()
    assert h.at(f"AT+CNMI={cnmi};+CIPMODE=1") == OK
    h.open_single("1.2.3.4", 80)  # transparent: CONNECT, the line is the link
    return h


def _escape(h: Harness) -> bytes:
    h.advance(1.5)
    h.feed(b"+++")
    return h.advance(1.5)


def test_data_mode_holds_indications_with_mode_2_and_drops_them_with_mode_1() -> None:
    h = _in_data_mode("2,1")
    assert incoming(h, "while online") == b""
    assert _escape(h) == OK + block('+CMTI: "SM",1')
    h = _in_data_mode("1,1")
    assert incoming(h, "while online") == b""
    assert _escape(h) == OK  # the indication is gone, the message is not
    assert h.at("AT+CPMS?") == block('+CPMS: "SM",1,50,"SM",1,50,"SM",1,50') + OK
    h = _in_data_mode("1,2")
    assert incoming(h, "routed while online") == b""
    assert _escape(h) == OK  # +CMT could not be shown: stored instead
    assert h.at("AT+CPMS?") == block('+CPMS: "SM",1,50,"SM",1,50,"SM",1,50') + OK


def test_sending_needs_the_network_and_the_sim() -> None:
    h = Harness()
    h.at("AT+CMEE=1;+CMGF=1")
    h.handle(Fault("register", 0))
    h.take()
    assert h.at('AT+CMGS="123"') == b"\r\n> "
    assert h.feed(b"lost\x1a") == b"\r\n+CMS ERROR: 331\r\n"
    assert sent(h) == []
    h.handle(Fault("register", 1))
    h.take()
    assert h.at("AT+CFUN=4") == OK  # radio off, SIM on: storage works, sending not
    assert h.at("AT+CPMS?") == block('+CPMS: "SM",0,50,"SM",0,50,"SM",0,50') + OK
    h.at('AT+CMGS="123"')
    assert h.feed(b"x\x1a") == b"\r\n+CMS ERROR: 331\r\n"
    h.at("AT+CFUN=1")
    h.take()
    assert h.at("AT+CFUN=0").startswith(OK)
    assert h.at("AT+CPMS?") == b"\r\n+CMS ERROR: 302\r\n"


def test_the_line_end_after_cmgs_is_never_text_and_utf16_hex_is_ucs2() -> None:
    h = Harness()
    h.at("AT+CMGF=1")
    assert h.feed(b'AT+CMGS="+8613912345678"\r') == b"\r\n> "
    assert h.feed(b"\n") == b""  # the LF of CR LF, in a read of its own
    assert h.feed(b"Alarm\x1a") == block("+CMGS: 0") + OK
    h.at('AT+CSCS="HEX";+CSMP=17,167,0,8')
    assert h.feed(b'AT+CMGS="+8613912345678"\r\n') == b"\r\n> "
    h.feed("Привет".encode("utf-16-be").hex().encode() + b"\x1a")
    assert [(m.text, m.encoding) for m in sent(h)] == [("Alarm", "gsm7"), ("Привет", "ucs2")]
