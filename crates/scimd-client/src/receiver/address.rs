//! Which IP addresses are not the public Internet: the special-purpose blocks of the IANA
//! registries (RFC 6890, RFC 8190), named as their RFCs name them. An event receiver at one of
//! them is inside the server's own network (loopback, private, link-local with its cloud
//! metadata service), so reaching it needs the administrator's explicit `--receiver-allow`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A special-purpose block: its CIDR text and what it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Special {
    pub block: &'static str,
    pub name: &'static str,
}

/// Why an address is not a public Internet host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonPublic {
    /// The address is in a special-purpose block.
    In(Special),
    /// An IPv6 form that reaches an IPv4 address (mapped, NAT64, 6to4) carries one that is in a
    /// special-purpose block: connecting to it reaches that IPv4 address.
    Carries {
        form: Special,
        v4: Ipv4Addr,
        inner: Special,
    },
}

impl fmt::Display for NonPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NonPublic::In(s) => write!(f, "in {} ({})", s.block, s.name),
            NonPublic::Carries { form, v4, inner } => write!(
                f,
                "the {} form ({}) of {v4}, in {} ({})",
                form.name, form.block, inner.block, inner.name
            ),
        }
    }
}

const fn special(block: &'static str, name: &'static str) -> Special {
    Special { block, name }
}

const THIS_NETWORK: Special = special("0.0.0.0/8", "'this network', RFC 791");
const PRIVATE_10: Special = special("10.0.0.0/8", "private-use, RFC 1918");
const SHARED: Special = special("100.64.0.0/10", "shared address space of carrier-grade NAT, RFC 6598");
const LOOPBACK_V4: Special = special("127.0.0.0/8", "loopback");
const LINK_LOCAL_V4: Special = special("169.254.0.0/16", "link-local, where cloud metadata services answer");
const PRIVATE_172: Special = special("172.16.0.0/12", "private-use, RFC 1918");
const IETF_V4: Special = special("192.0.0.0/24", "IETF protocol assignments, RFC 6890");
const TEST_NET_1: Special = special("192.0.2.0/24", "documentation, RFC 5737");
const RELAY_6TO4: Special = special("192.88.99.0/24", "deprecated 6to4 relay anycast, RFC 7526");
const PRIVATE_192: Special = special("192.168.0.0/16", "private-use, RFC 1918");
const BENCHMARKING_V4: Special = special("198.18.0.0/15", "benchmarking, RFC 2544");
const TEST_NET_2: Special = special("198.51.100.0/24", "documentation, RFC 5737");
const TEST_NET_3: Special = special("203.0.113.0/24", "documentation, RFC 5737");
const MULTICAST_V4: Special = special("224.0.0.0/4", "multicast");
const BROADCAST: Special = special("255.255.255.255/32", "limited broadcast");
const RESERVED_V4: Special = special("240.0.0.0/4", "reserved for future use, RFC 1112");

const UNSPECIFIED_V6: Special = special("::/128", "unspecified");
const LOOPBACK_V6: Special = special("::1/128", "loopback");
const MAPPED: Special = special("::ffff:0:0/96", "IPv4-mapped");
const TRANSLATED: Special = special("::ffff:0:0:0/96", "IPv4-translated");
const COMPATIBLE: Special = special("::/96", "deprecated IPv4-compatible, RFC 4291");
const NAT64: Special = special("64:ff9b::/96", "NAT64");
const NAT64_LOCAL: Special = special("64:ff9b:1::/48", "local-use NAT64, RFC 8215");
const DISCARD: Special = special("100::/64", "discard-only, RFC 6666");
const TEREDO: Special = special("2001::/32", "Teredo, RFC 4380");
const IETF_V6: Special = special("2001::/23", "IETF protocol assignments, RFC 2928");
const DOCUMENTATION_V6: Special = special("2001:db8::/32", "documentation, RFC 3849");
const SIX_TO_FOUR: Special = special("2002::/16", "6to4");
const DOCUMENTATION_3FFF: Special = special("3fff::/20", "documentation, RFC 9637");
const UNIQUE_LOCAL: Special = special(
    "fc00::/7",
    "unique-local, where AWS's metadata service fd00:ec2::254 answers",
);
const LINK_LOCAL_V6: Special = special("fe80::/10", "link-local");
const SITE_LOCAL: Special = special("fec0::/10", "deprecated site-local, RFC 3879");
const MULTICAST_V6: Special = special("ff00::/8", "multicast");
const NOT_GLOBAL_UNICAST: Special = special(
    "IPv6 space outside 2000::/3",
    "reserved: only 2000::/3 is global unicast",
);

/// `None` for a public Internet address; otherwise the special-purpose block that makes it not
/// one.
pub(crate) fn non_public(ip: IpAddr) -> Option<NonPublic> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4).map(NonPublic::In),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<Special> {
    Some(match ip.octets() {
        [0, ..] => THIS_NETWORK,
        [10, ..] => PRIVATE_10,
        [100, 64..=127, ..] => SHARED,
        [127, ..] => LOOPBACK_V4,
        [169, 254, ..] => LINK_LOCAL_V4,
        [172, 16..=31, ..] => PRIVATE_172,
        [192, 0, 0, _] => IETF_V4,
        [192, 0, 2, _] => TEST_NET_1,
        [192, 88, 99, _] => RELAY_6TO4,
        [192, 168, ..] => PRIVATE_192,
        [198, 18..=19, ..] => BENCHMARKING_V4,
        [198, 51, 100, _] => TEST_NET_2,
        [203, 0, 113, _] => TEST_NET_3,
        [224..=239, ..] => MULTICAST_V4,
        [255, 255, 255, 255] => BROADCAST,
        [240..=255, ..] => RESERVED_V4,
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<NonPublic> {
    let s = ip.segments();
    // The forms that carry an IPv4 address are judged by the address they reach: a public one
    // is as good as itself, a private one as bad.
    let carried = match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some((MAPPED, hi, lo)),
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => Some((TRANSLATED, hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some((NAT64, hi, lo)),
        [0x2002, hi, lo, ..] => Some((SIX_TO_FOUR, hi, lo)),
        _ => None,
    };
    if let Some((form, hi, lo)) = carried {
        let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
        return special_v4(v4).map(|inner| NonPublic::Carries { form, v4, inner });
    }
    let block = match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => UNSPECIFIED_V6,
        [0, 0, 0, 0, 0, 0, 0, 1] => LOOPBACK_V6,
        [0, 0, 0, 0, 0, 0, _, _] => COMPATIBLE,
        [0x64, 0xff9b, 1, ..] => NAT64_LOCAL,
        [0x100, 0, 0, 0, ..] => DISCARD,
        // Teredo hides its IPv4 address (inverted); the protocol is dead, so the block is refused.
        [0x2001, 0, ..] => TEREDO,
        [0x2001, 0x0db8, ..] => DOCUMENTATION_V6,
        [0x2001, 0..=0x01ff, ..] => IETF_V6,
        [0x3fff, 0..=0x0fff, ..] => DOCUMENTATION_3FFF,
        [0xfc00..=0xfdff, ..] => UNIQUE_LOCAL,
        [0xfe80..=0xfebf, ..] => LINK_LOCAL_V6,
        [0xfec0..=0xfeff, ..] => SITE_LOCAL,
        [0xff00..=0xffff, ..] => MULTICAST_V6,
        // Only 2000::/3 is allocated for global unicast; everything else is reserved.
        [0x2000..=0x3fff, ..] => return None,
        _ => NOT_GLOBAL_UNICAST,
    };
    Some(NonPublic::In(block))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn block_of(s: &str) -> Option<&'static str> {
        match non_public(ip(s))? {
            NonPublic::In(special) => Some(special.block),
            NonPublic::Carries { inner, .. } => Some(inner.block),
        }
    }

    #[test]
    fn each_special_ipv4_block_is_recognised_at_its_edges() {
        let cases = [
            ("0.0.0.0", "0.0.0.0/8"),
            ("0.255.255.255", "0.0.0.0/8"),
            ("10.0.0.0", "10.0.0.0/8"),
            ("10.255.255.255", "10.0.0.0/8"),
            ("100.64.0.0", "100.64.0.0/10"),
            ("100.100.100.200", "100.64.0.0/10"),
            ("100.127.255.255", "100.64.0.0/10"),
            ("127.0.0.1", "127.0.0.0/8"),
            ("127.255.255.254", "127.0.0.0/8"),
            ("169.254.169.254", "169.254.0.0/16"),
            ("172.16.0.1", "172.16.0.0/12"),
            ("172.31.255.255", "172.16.0.0/12"),
            ("192.0.0.192", "192.0.0.0/24"),
            ("192.0.2.1", "192.0.2.0/24"),
            ("192.88.99.1", "192.88.99.0/24"),
            ("192.168.1.1", "192.168.0.0/16"),
            ("198.18.0.1", "198.18.0.0/15"),
            ("198.19.255.255", "198.18.0.0/15"),
            ("198.51.100.7", "198.51.100.0/24"),
            ("203.0.113.9", "203.0.113.0/24"),
            ("224.0.0.1", "224.0.0.0/4"),
            ("239.255.255.255", "224.0.0.0/4"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("255.255.255.255", "255.255.255.255/32"),
        ];
        for (addr, block) in cases {
            assert_eq!(block_of(addr), Some(block), "{addr}");
        }
    }

    #[test]
    fn public_ipv4_addresses_next_to_the_special_blocks_pass() {
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "93.184.215.14",
        ] {
            assert_eq!(block_of(addr), None, "{addr}");
        }
    }

    #[test]
    fn each_special_ipv6_block_is_recognised() {
        let cases = [
            ("::", "::/128"),
            ("::1", "::1/128"),
            ("::7f00:1", "::/96"),
            ("::8.8.8.8", "::/96"),
            ("64:ff9b:1::1", "64:ff9b:1::/48"),
            ("100::1", "100::/64"),
            ("2001::1", "2001::/32"),
            ("2001:2::1", "2001::/23"),
            ("2001:db8::1", "2001:db8::/32"),
            ("3fff::1", "3fff::/20"),
            ("fc00::1", "fc00::/7"),
            ("fd00:ec2::254", "fc00::/7"),
            ("fe80::1", "fe80::/10"),
            ("febf:ffff::1", "fe80::/10"),
            ("fec0::1", "fec0::/10"),
            ("ff02::1", "ff00::/8"),
            ("4000::1", "IPv6 space outside 2000::/3"),
            ("5f00::1", "IPv6 space outside 2000::/3"),
        ];
        for (addr, block) in cases {
            assert_eq!(block_of(addr), Some(block), "{addr}");
        }
    }

    #[test]
    fn public_ipv6_addresses_pass() {
        for addr in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "2001:200::1",
            "3fff:1000::1",
        ] {
            assert_eq!(block_of(addr), None, "{addr}");
        }
    }

    #[test]
    fn ipv6_forms_that_reach_ipv4_are_judged_by_the_ipv4_address() {
        let cases = [
            ("::ffff:127.0.0.1", "127.0.0.0/8"),
            ("::ffff:169.254.169.254", "169.254.0.0/16"),
            ("::ffff:10.1.2.3", "10.0.0.0/8"),
            ("::ffff:0:192.168.0.1", "192.168.0.0/16"),
            ("64:ff9b::127.0.0.1", "127.0.0.0/8"),
            ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),
            ("2002:7f00:1::1", "127.0.0.0/8"),
            ("2002:a9fe:a9fe::", "169.254.0.0/16"),
        ];
        for (addr, block) in cases {
            assert_eq!(block_of(addr), Some(block), "{addr}");
        }
        for public in ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"] {
            assert_eq!(block_of(public), None, "{public}");
        }
    }

    #[test]
    fn the_reason_names_the_form_and_the_block_it_reaches() {
        let why = non_public(ip("::ffff:169.254.169.254")).map(|n| n.to_string());
        assert_eq!(
            why.as_deref(),
            Some(
                "the IPv4-mapped form (::ffff:0:0/96) of 169.254.169.254, in 169.254.0.0/16 (link-local, \
                 where cloud metadata services answer)"
            )
        );
    }
}
