//! Which Finesse pubsub nodes are automatic feeds: delivered to a user
//! without an explicit subscription (Cisco's Finesse developer guide).
//!
//! Takes a pubsub node name; gives, for an automatic feed, why a
//! subscription to it is redundant, in the words that complete the
//! `xmpp.subscription_redundant` message. The XMPP stage is handed
//! [`automatic_feed`] when its sessions are made, so it needs no Finesse
//! knowledge of its own. Never allocates and never panics.

/// Why subscribing to `node` is redundant when Finesse delivers it without
/// a subscription: `/finesse/api/User/<id>` (User),
/// `/finesse/api/User/<id>/Dialogs`, `/finesse/api/User/<id>/Media/<mrdId>`
/// and `/finesse/api/SystemInfo`; `None` for any other node (Team and
/// Queue feeds need a subscription). Names are compared ignoring case.
pub fn automatic_feed(node: &str) -> Option<&'static str> {
    let prefix = "/finesse/api/";
    let rest = node
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .and_then(|_| node.get(prefix.len()..))?;
    let parts: Vec<&str> = rest.split('/').collect();
    let is = |part: &str, name: &str| part.eq_ignore_ascii_case(name);
    match parts.as_slice() {
        [system] if is(system, "SystemInfo") => {
            Some("Finesse delivers the SystemInfo feed to the user without one")
        }
        [user, id] if is(user, "User") && !id.is_empty() => {
            Some("Finesse delivers the User feed to the user without one")
        }
        [user, id, dialogs] if is(user, "User") && !id.is_empty() && is(dialogs, "Dialogs") => {
            Some("Finesse delivers the Dialogs feed to the user without one")
        }
        [user, id, media, mrd]
            if is(user, "User") && !id.is_empty() && is(media, "Media") && !mrd.is_empty() =>
        {
            Some("Finesse delivers the Media feed to the user without one")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_dialogs_media_and_systeminfo_are_automatic_feeds() {
        for (node, feed) in [
            ("/finesse/api/User/1001", Some("User")),
            ("/finesse/api/User/1001/Dialogs", Some("Dialogs")),
            ("/finesse/api/User/1001/Media/2", Some("Media")),
            ("/finesse/api/SystemInfo", Some("SystemInfo")),
            ("/finesse/api/user/1001/dialogs", Some("Dialogs")),
            ("/FINESSE/API/SystemInfo", Some("SystemInfo")),
            ("/finesse/api/Team/3/Users", None),
            ("/finesse/api/Queue/5", None),
            ("/finesse/api/User/1001/Queues", None),
            ("/finesse/api/User/", None),
            ("/finesse/api/User/1001/Media/", None),
            ("/finesse/api/SystemInfo/extra", None),
            ("/finesse/api/", None),
            ("/finesse/ap", None),
            ("/other/api/User/1001", None),
            ("", None),
        ] {
            let want = feed
                .map(|feed| format!("Finesse delivers the {feed} feed to the user without one"));
            assert_eq!(automatic_feed(node).map(str::to_owned), want, "{node}");
        }
    }

    #[test]
    fn multibyte_nodes_are_not_feeds_and_do_not_panic() {
        assert_eq!(automatic_feed("/finesse/apé/User/1"), None);
        assert_eq!(automatic_feed("ééééééééééééé"), None);
    }
}
