"""Free loopback ports for the servers the tests start (TF Serving, nginx, TF workers)."""

import socket


def free_ports(count):
    """``count`` distinct free TCP ports on 127.0.0.1 (all held open while picked, so no
    two are the same; a process started right after can bind them)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
