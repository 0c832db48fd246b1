"""The option negotiation automaton against RFC 1661's state transition
table (section 4.1), cell by cell: every event in every state, the actions
taken and the next state.

The generic automaton is the one IPCP runs; LCP departs from the table only
for the client's Terminate-Request (the call ends at once, test_ppp_link.py).
"""

from __future__ import annotations

import pytest
from ppp_peer import FakeHost, opts, pkt

from sim800emu.core.ppp.link import State, _Fsm

# RFC 1661 4.1, transcribed: state -> event -> "actions/next state"
# (actions: tlu tld tls tlf irc zrc scr sca scn str sta scj; "-" = no change, nothing done)
STATES = ["Initial", "Starting", "Closed", "Stopped", "Closing", "Stopping",
          "Req-Sent", "Ack-Rcvd", "Ack-Sent", "Opened"]  # fmt: skip
TABLE = """
Up    | 2          | irc,scr/6  | -          | -              | -       | -       | -         | -         | -         | -
Down  | -          | -          | 0          | tls/1          | 0       | 1       | 1         | 1         | 1         | tld/1
Open  | tls/1      | 1          | irc,scr/6  | 3              | 5       | 5       | 6         | 7         | 8         | 9
Close | 0          | tlf/0      | 2          | 2              | 4       | 4       | irc,str/4 | irc,str/4 | irc,str/4 | tld,irc,str/4
TO+   | -          | -          | -          | -              | str/4   | str/5   | scr/6     | scr/6     | scr/8     | -
TO-   | -          | -          | -          | -              | tlf/2   | tlf/3   | tlf/3     | tlf/3     | tlf/3     | -
RCR+  | -          | -          | sta/2      | irc,scr,sca/8  | 4       | 5       | sca/8     | sca,tlu/9 | sca/8     | tld,scr,sca/8
RCR-  | -          | -          | sta/2      | irc,scr,scn/6  | 4       | 5       | scn/6     | scn/7     | scn/6     | tld,scr,scn/6
RCA   | -          | -          | sta/2      | sta/3          | 4       | 5       | irc/7     | scr/6     | irc,tlu/9 | tld,scr/6
RCN   | -          | -          | sta/2      | sta/3          | 4       | 5       | irc,scr/6 | scr/6     | irc,scr/8 | tld,scr/6
RTR   | -          | -          | sta/2      | sta/3          | sta/4   | sta/5   | sta/6     | sta/6     | sta/6     | tld,zrc,sta/5
RTA   | -          | -          | 2          | 3              | tlf/2   | tlf/3   | 6         | 6         | 8         | tld,scr/6
RUC   | -          | -          | scj/2      | scj/3          | scj/4   | scj/5   | scj/6     | scj/7     | scj/8     | scj/9
RXJ+  | -          | -          | 2          | 3              | 4       | 5       | 6         | 6         | 8         | 9
RXJ-  | -          | -          | tlf/2      | tlf/3          | tlf/2   | tlf/3   | tlf/3     | tlf/3     | tlf/3     | tld,irc,str/5
"""
CELLS = [
    (event.strip(), STATES[i], cell.strip())
    for line in TABLE.strip().splitlines()
    for event, *cells in [line.split("|")]
    for i, cell in enumerate(cells)
]
SENDS = {1: "scr", 2: "sca", 3: "scn", 4: "scn", 5: "str", 6: "sta", 7: "scj"}


class _FakeLink:
    def __init__(self) -> None:
        self.host = FakeHost()
        self.key = "t"
        self.restart = 3.0
        self.max_configure = 10
        self.max_terminate = 2
        self.client_mru = 1500
        self.stats = {"discarded": 0, "code_rejects": 0}
        self.sent: list[int] = []

    def send_packet(self, proto: int, data: bytes) -> None:
        self.sent.append(data[0])


class _Probe(_Fsm):
    """Options of type 1 are acceptable, type 2 is Naked."""

    name = "T"
    proto = 0x8021

    def __init__(self, link: _FakeLink) -> None:
        super().__init__(link)  # type: ignore[arg-type]
        self.hooks: list[str] = []

    def check_request(self, options: list[tuple[int, bytes]]) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
        return [o for o in options if o[0] == 2], []

    def this_layer_up(self) -> None:
        self.hooks.append("tlu")

    def this_layer_down(self) -> None:
        self.hooks.append("tld")

    def this_layer_started(self) -> None:
        self.hooks.append("tls")

    def this_layer_finished(self) -> None:
        self.hooks.append("tlf")


def _fire(fsm: _Probe, event: str) -> None:
    if event == "Up":
        fsm.up()
    elif event == "Down":
        fsm.down()
    elif event == "Open":
        fsm.open()
    elif event == "Close":
        fsm.close()
    elif event in ("TO+", "TO-"):
        fsm.restart_count = 1 if event == "TO+" else 0
        fsm.timeout()
    elif event == "RCR+":
        fsm.receive(pkt(1, 77, opts((1, b"ok"))))
    elif event == "RCR-":
        fsm.receive(pkt(1, 77, opts((2, b"no"))))
    elif event == "RCA":
        fsm.receive(pkt(2, fsm.req_id))
    elif event == "RCN":
        fsm.receive(pkt(3, fsm.req_id))
    elif event == "RTR":
        fsm.receive(pkt(5, 78))
    elif event == "RTA":
        fsm.receive(pkt(6, 79))
    elif event == "RUC":
        fsm.receive(pkt(42, 80))
    elif event == "RXJ+":
        fsm.receive(pkt(7, 81, pkt(9, 1, bytes(4))))  # an Echo-Request rejected: harmless
    elif event == "RXJ-":
        fsm.receive(pkt(7, 81, pkt(1, 1)))  # Configure-Request rejected: fatal


@pytest.mark.parametrize(("event", "state", "cell"), CELLS, ids=[f"{e}@{s}" for e, s, _ in CELLS])
def test_state_transition_table(event: str, state: str, cell: str) -> None:
    link = _FakeLink()
    fsm = _Probe(link)
    start = State(STATES.index(state))
    fsm.state = start
    fsm.restart_count = 5
    fsm.req_id = 9
    timer_before = start in (State.CLOSING, State.STOPPING, State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT)
    if timer_before:
        fsm.start_timer()
    _fire(fsm, event)
    if cell == "-":
        actions, nxt = [], start
    else:
        *acts, last = cell.split("/")
        actions = acts[0].split(",") if acts else []
        nxt = State(int(last))
    assert fsm.state == nxt
    assert [SENDS[c] for c in link.sent] == [a for a in actions if a in SENDS.values()]
    assert fsm.hooks == [a for a in actions if a in ("tlu", "tld", "tls", "tlf")]
    if event in ("TO+", "TO-"):
        return
    if "irc" in actions:
        sent = sum(a in ("scr", "str") for a in actions)
        full = link.max_terminate if "str" in actions else link.max_configure
        assert fsm.restart_count == full - sent
    if "zrc" in actions:
        assert fsm.restart_count == 0
    # the restart timer runs exactly in the states that wait for an answer
    waiting = nxt in (State.CLOSING, State.STOPPING, State.REQ_SENT, State.ACK_RCVD, State.ACK_SENT)
    assert ("t.t" in link.host.timers) == (waiting and (timer_before or bool(actions)))
