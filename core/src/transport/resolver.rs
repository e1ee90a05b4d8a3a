//! Name resolution for the agent. ureq resolves the host before every request, even one that
//! reuses a pooled connection, and with a deadline set it does each lookup on a new thread. A
//! XenAPI client makes many small calls to one host, so: an IP address needs no lookup at all,
//! and a host name is looked up again only once a minute.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a looked-up address is reused.
const TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(super) struct CachingResolver {
    lookup: DefaultResolver,
    cached: Mutex<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    authority: String,
    at: Instant,
    addrs: ResolvedSocketAddrs,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or("");
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            let port = uri
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("https") {
                    443
                } else {
                    80
                });
            let mut addrs = self.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
        {
            let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cached.as_ref() {
                if c.authority == authority && c.at.elapsed() < TTL {
                    return Ok(c.addrs.clone());
                }
            }
        }
        let addrs = self.lookup.resolve(uri, config, timeout)?;
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(Cached {
            authority: authority.to_owned(),
            at: Instant::now(),
            addrs: addrs.clone(),
        });
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(r: &CachingResolver, url: &str) -> Vec<SocketAddr> {
        let uri: Uri = url.parse().unwrap();
        let config = Config::default();
        r.resolve(&uri, &config, NextTimeout::default())
            .unwrap()
            .to_vec()
    }

    #[test]
    fn ip_literals_and_cached_names() {
        let r = CachingResolver::default();
        assert_eq!(
            resolve(&r, "http://127.0.0.1:9363/"),
            vec!["127.0.0.1:9363".parse().unwrap()]
        );
        assert_eq!(
            resolve(&r, "https://[::1]/"),
            vec!["[::1]:443".parse().unwrap()]
        );
        let first = resolve(&r, "http://localhost:80/");
        assert!(!first.is_empty());
        assert_eq!(resolve(&r, "http://localhost:80/"), first);
    }
}
