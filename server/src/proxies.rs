//! Which address a request comes from when Lifeboat sits behind reverse proxies
//! (`LIFEBOAT_TRUST_PROXY`): the trusted proxies, and the client address read from
//! `X-Forwarded-For` through them. The audit log and the login throttle use it.
//!
//! A proxy appends the address it received the request from to `X-Forwarded-For`, so the
//! entries on the right were written by the proxies nearest to Lifeboat, and anything on
//! the left may have been typed by the client itself. The client is therefore the
//! right-most address that is not a trusted proxy, found by walking from the direct peer
//! leftwards; the header is read at all only when the direct peer is a trusted proxy.

use std::fmt;
use std::net::IpAddr;

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address (`127.0.0.1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or range (e.g. 10.0.0.0/8)"))?;
        let network = network.to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(n) if n <= bits => n,
                _ => return Err(format!("`{s}`: the prefix length must be 0 to {bits}")),
            },
        };
        Ok(Cidr {
            network: mask(network, prefix),
            prefix,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// `ip` with every bit after the first `prefix` cleared.
pub fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::from((bits & kept).to_be_bytes())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::from((bits & kept).to_be_bytes())
        }
    }
}

/// Whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TrustedProxies {
    /// The header is ignored: the client is the direct peer (the default).
    #[default]
    None,
    /// `true`, as before the setting took a list: the direct peer is trusted whatever
    /// its address, and only the last entry of the header is used.
    DirectPeer,
    /// The direct peer and the header's entries are trusted when they are in these ranges.
    List(Vec<Cidr>),
}

impl TrustedProxies {
    /// `false`/`off`/`no`/`0` (none), `true`/`on`/`yes`/`1` (the direct peer, one hop), or
    /// a comma-separated list of addresses and ranges.
    pub fn parse(s: &str) -> Result<TrustedProxies, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "0" | "false" | "no" | "off" => return Ok(TrustedProxies::None),
            "1" | "true" | "yes" | "on" => return Ok(TrustedProxies::DirectPeer),
            _ => {}
        }
        let list = s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Cidr::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{e}; give true, false, or proxy addresses and ranges separated by commas (e.g. 127.0.0.1,10.0.0.0/8)"))?;
        Ok(TrustedProxies::List(list))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        match self {
            TrustedProxies::None => false,
            TrustedProxies::DirectPeer => true,
            TrustedProxies::List(list) => list.iter().any(|c| c.contains(ip)),
        }
    }

    /// The client's address: `peer` is the direct peer, `forwarded` the values of the
    /// request's `X-Forwarded-For` headers in order.
    pub fn client_ip<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded: impl IntoIterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let direct = peer?.to_canonical();
        let peer = Some(direct);
        if !self.trusts(direct) {
            return peer;
        }
        let entries: Vec<&str> = forwarded
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if let TrustedProxies::DirectPeer = self {
            return entries.last().and_then(|e| parse_entry(e)).or(peer);
        }
        // Walking leftwards from the peer: the first address that is not a trusted proxy
        // is the client. An entry that is not an address stops the walk at the last proxy
        // known (only a trusted proxy wrote the entries to the right of a client).
        let mut nearest = direct;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_entry(entry) else {
                return Some(nearest);
            };
            if !self.trusts(ip) {
                return Some(ip);
            }
            nearest = ip;
        }
        // Every hop is a trusted proxy: the client is the first of them.
        Some(nearest)
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn list(s: &str) -> TrustedProxies {
        TrustedProxies::parse(s).expect("parses")
    }

    #[test]
    fn the_setting_takes_booleans_and_lists_of_ranges() {
        assert_eq!(list("false"), TrustedProxies::None);
        assert_eq!(list(""), TrustedProxies::None);
        assert_eq!(list("true"), TrustedProxies::DirectPeer);
        assert_eq!(list("ON"), TrustedProxies::DirectPeer);
        let TrustedProxies::List(l) = list("127.0.0.1, 10.1.2.3/8 ,fd00::/8,::1") else {
            panic!("a list")
        };
        let shown: Vec<String> = l.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8", "::1/128"]);
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
        assert!(TrustedProxies::parse("127.0.0.1,nope").is_err());
    }

    #[test]
    fn ranges_contain_their_addresses_including_mapped_ones() {
        let c = Cidr::parse("10.0.0.0/8").expect("cidr");
        assert!(c.contains(ip("10.200.1.1")));
        assert!(c.contains(ip("::ffff:10.0.0.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(!c.contains(ip("::a00:1")));
        let any = Cidr::parse("0.0.0.0/0").expect("cidr");
        assert!(any.contains(ip("203.0.113.9")));
        let v6 = Cidr::parse("2001:db8:1::/48").expect("cidr");
        assert!(v6.contains(ip("2001:db8:1:ffff::1")));
        assert!(!v6.contains(ip("2001:db8:2::1")));
    }

    #[test]
    fn the_client_is_the_right_most_address_that_is_not_a_trusted_proxy() {
        let t = list("127.0.0.1,10.0.0.0/8");
        let peer = Some(ip("127.0.0.1"));
        // A spoofed left-most entry is ignored: the proxy appended the real client.
        assert_eq!(
            t.client_ip(peer, ["6.6.6.6, 203.0.113.7"]),
            Some(ip("203.0.113.7"))
        );
        // Through two trusted proxies (and two header lines).
        assert_eq!(
            t.client_ip(peer, ["1.1.1.1, 198.51.100.2", "10.0.0.5"]),
            Some(ip("198.51.100.2"))
        );
        // With a port, and IPv6 in brackets.
        assert_eq!(
            t.client_ip(peer, ["198.51.100.2:5123"]),
            Some(ip("198.51.100.2"))
        );
        assert_eq!(
            t.client_ip(peer, ["[2001:db8::7]:443"]),
            Some(ip("2001:db8::7"))
        );
        // No header: the peer itself.
        assert_eq!(t.client_ip(peer, []), peer);
        // Every hop trusted: the first of them.
        assert_eq!(
            t.client_ip(peer, ["10.0.0.9, 10.0.0.5"]),
            Some(ip("10.0.0.9"))
        );
        // Garbage where a proxy's entry should be: the nearest proxy known.
        assert_eq!(
            t.client_ip(peer, ["203.0.113.7, unknown, 10.0.0.5"]),
            Some(ip("10.0.0.5"))
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_set_its_address() {
        let t = list("10.0.0.0/8");
        let peer = Some(ip("203.0.113.50"));
        assert_eq!(t.client_ip(peer, ["10.0.0.1"]), peer);
        assert_eq!(t.client_ip(peer, ["198.51.100.1"]), peer);
        // Nothing trusted at all (the default).
        assert_eq!(
            TrustedProxies::None.client_ip(Some(ip("127.0.0.1")), ["198.51.100.1"]),
            Some(ip("127.0.0.1"))
        );
    }

    #[test]
    fn true_trusts_the_direct_peer_for_one_hop_as_before() {
        let t = list("true");
        assert_eq!(
            t.client_ip(Some(ip("172.17.0.2")), ["6.6.6.6, 203.0.113.7"]),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            t.client_ip(Some(ip("172.17.0.2")), ["not an address"]),
            Some(ip("172.17.0.2"))
        );
    }
}
