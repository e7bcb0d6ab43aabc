"""The tests' free port is held in TIME_WAIT, so a server another test lane starts at the same
moment cannot be given it, while the test's own server can still bind it."""
import socket

from conftest import _free_port


def _in_time_wait(port: int) -> bool:
    with open("/proc/net/tcp", encoding="ascii") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return any(row[1] == f"0100007F:{port:04X}" and row[3] == "06" for row in rows)


def test_a_free_port_is_in_time_wait_and_can_be_bound() -> None:
    port = _free_port()
    assert _in_time_wait(port), f"127.0.0.1:{port} is in TIME_WAIT"
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(1)
