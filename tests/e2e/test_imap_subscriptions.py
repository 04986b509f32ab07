r"""
Subscriptions are names (RFC 9051 §6.3.10, issue 13): CREATE does not
subscribe (as with Dovecot; an account's first mailboxes are), a
subscription outlives DELETE and LIST (SUBSCRIBED) then shows the name
\NonExistent (RFC 5258 §3.4), LSUB still lists it, UNSUBSCRIBE takes it
away, CREATE brings it back to life, RENAME takes it along.  Checked in a
second session, as another client of the same account sees it.
"""
from test_imap_mailboxes import no, ok, raw, user  # noqa: F401 (user: a fixture)


def test_create_does_not_subscribe(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "Projects/tern"')
    r2 = raw(tern, user)
    assert ok(r2, 'LSUB "" "Projects*"') == []
    assert ok(r2, 'LIST "" "Projects*" RETURN (SUBSCRIBED)') == [
        b'* LIST (\\HasChildren) "/" "Projects"', b'* LIST (\\HasNoChildren) "/" "Projects/tern"']
    # the account's first mailboxes are subscribed
    assert ok(r2, 'LSUB "" "%"') == [
        b'* LSUB () "/" "INBOX"', b'* LSUB () "/" "Archive"', b'* LSUB () "/" "Drafts"', b'* LSUB () "/" "Junk"',
        b'* LSUB () "/" "Sent"', b'* LSUB () "/" "Trash"']


def test_subscription_outlives_delete(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "Old"')
    ok(r, 'SUBSCRIBE "Old"')
    ok(r, 'DELETE "Old"')
    r2 = raw(tern, user)
    assert ok(r2, 'LIST (SUBSCRIBED) "" "O*"') == [b'* LIST (\\NonExistent \\Subscribed) "/" "Old"']
    assert ok(r2, 'LSUB "" "O*"') == [b'* LSUB () "/" "Old"']
    assert ok(r2, 'LIST "" "O*"') == []
    assert ok(r2, 'LIST "" "O*" RETURN (SUBSCRIBED)') == []
    # no STATUS for a name without a mailbox (RFC 5819)
    assert ok(r2, 'LIST (SUBSCRIBED) "" "O*" RETURN (STATUS (MESSAGES))') == [
        b'* LIST (\\NonExistent \\Subscribed) "/" "Old"']
    no(r2, 'SUBSCRIBE "Other"', "NONEXISTENT")
    # CREATE brings the subscription back to life
    ok(r, 'CREATE "Old"')
    assert ok(r2, 'LIST (SUBSCRIBED) "" "O*"') == [b'* LIST (\\HasNoChildren \\Subscribed) "/" "Old"']
    ok(r, 'DELETE "Old"')
    ok(r2, 'UNSUBSCRIBE "Old"')
    assert ok(r, 'LSUB "" "O*"') == []
    no(r2, 'UNSUBSCRIBE "Old"', "NONEXISTENT")


def test_rename_takes_subscriptions_along(tern, user):
    r = raw(tern, user)
    ok(r, 'CREATE "A/B"')
    ok(r, 'SUBSCRIBE "A/B"')
    ok(r, 'RENAME "A" "Z"')
    r2 = raw(tern, user)
    assert ok(r2, 'LSUB "" "*"')[-1:] == [b'* LSUB () "/" "Z/B"']
    assert b'* LSUB () "/" "A/B"' not in ok(r2, 'LSUB "" "*"')
    # LSUB "%": the unsubscribed parent of a subscribed name is \Noselect (RFC 3501 §6.3.9)
    assert b'* LSUB (\\Noselect) "/" "Z"' in ok(r2, 'LSUB "" "%"')
    assert ok(r2, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Z" RETURN (CHILDREN)') == [
        b'* LIST (\\HasChildren) "/" "Z" ("CHILDINFO" ("SUBSCRIBED"))']
