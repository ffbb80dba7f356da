"""Where a service listening on a unit is reached from another host of the fleet (the gateway, the
monitoring host), or from the unit itself."""

import ipaddress


def address_seen_from(unit_address: str, bind: str, same_host: bool) -> str | None:
    """The address to connect to a service bound to `bind` on a unit known as `unit_address`; None
    when only the unit itself can (loopback) and the other host is elsewhere."""
    address = ipaddress.ip_address(bind)
    if same_host:
        return "127.0.0.1" if address.is_unspecified or address.is_loopback else bind
    if address.is_loopback:
        return None
    return unit_address if address.is_unspecified else bind


def host_port(address: str, port: int) -> str:
    """`address:port`, bracketed for IPv6."""
    try:
        return f"[{address}]:{port}" if ipaddress.ip_address(address).version == 6 else f"{address}:{port}"
    except ValueError:  # a host name
        return f"{address}:{port}"
