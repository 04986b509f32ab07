/*
 * schema.c — the index schema, versioned with PRAGMA user_version.
 *
 * migrations[i] takes the schema from version i to i + 1.  Opening a store
 * applies every missing step in one BEGIN IMMEDIATE transaction, so two
 * processes opening a fresh data directory at once cannot both migrate,
 * and a crash mid-way leaves the previous version intact.  Never edit a
 * released step: append a new one.
 *
 * Invariants the rest of the backend relies on:
 *  - blobs.refcount is the number of messages and queue rows naming the
 *    blob; triggers keep it so for every INSERT and DELETE (including the
 *    ones cascading from an account or mailbox deletion).  When it drops
 *    to 0 the row moves to blob_gc, whose files are unlinked after the
 *    COMMIT (blob.c); a crash before that leaves rows that the next
 *    store_recover or gc run finishes.
 *  - mailboxes.uidnext / highestmodseq only grow; every call that changes
 *    a mailbox bumps highestmodseq once and gives that value to every
 *    message (or expunged row) it touched.
 *  - expunged keeps (uid, modseq) of removed messages for QRESYNC.
 *  - mailboxes.messages/unseen/deleted/size and accounts.used_messages/
 *    used_storage are kept by triggers on messages (schema 2); callers
 *    never write them.
 *  - local parts compare case-insensitively (COLLATE NOCASE is ASCII-only,
 *    which is what store.h asks); domains are stored lower-case.
 */
#include "store/sqlite/sq.h"

#include <stdio.h>

#include "lib/log.h"
#include "lib/util.h"

static const char *const migrations[] = {
	/* 0 -> 1: the initial schema */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO meta (key, value) VALUES ('uidvalidity', 0);"

	"CREATE TABLE domains ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created INTEGER NOT NULL"
	");"

	"CREATE TABLE accounts ("
	"  id INTEGER PRIMARY KEY,"
	"  domain_id INTEGER NOT NULL REFERENCES domains (id),"
	"  localpart TEXT NOT NULL COLLATE NOCASE,"
	"  password_hash TEXT NOT NULL DEFAULT '',"
	"  quota_storage INTEGER NOT NULL DEFAULT 0,"
	"  quota_messages INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  UNIQUE (domain_id, localpart)"
	");"

	/* localpart '' is the domain's catch-all */
	"CREATE TABLE aliases ("
	"  id INTEGER PRIMARY KEY,"
	"  domain_id INTEGER NOT NULL REFERENCES domains (id),"
	"  localpart TEXT NOT NULL COLLATE NOCASE,"
	"  created INTEGER NOT NULL,"
	"  UNIQUE (domain_id, localpart)"
	");"
	"CREATE TABLE alias_targets ("
	"  id INTEGER PRIMARY KEY,"
	"  alias_id INTEGER NOT NULL REFERENCES aliases (id) ON DELETE CASCADE,"
	"  target TEXT NOT NULL COLLATE NOCASE,"
	"  UNIQUE (alias_id, target)"
	");"

	"CREATE TABLE mailboxes ("
	"  id INTEGER PRIMARY KEY,"
	"  account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  special_use TEXT NOT NULL DEFAULT '',"
	"  uidvalidity INTEGER NOT NULL,"
	"  uidnext INTEGER NOT NULL DEFAULT 1,"
	"  highestmodseq INTEGER NOT NULL DEFAULT 1,"
	"  subscribed INTEGER NOT NULL DEFAULT 1,"
	"  UNIQUE (account_id, name)"
	");"

	"CREATE TABLE blobs ("
	"  id TEXT PRIMARY KEY,"
	"  size INTEGER NOT NULL,"
	"  refcount INTEGER NOT NULL,"
	"  created INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE blob_gc ("
	"  id TEXT PRIMARY KEY"
	") WITHOUT ROWID;"

	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,"
	"  uid INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  keywords TEXT NOT NULL DEFAULT '',"
	"  internaldate INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  blob_id TEXT NOT NULL REFERENCES blobs (id),"
	"  envelope TEXT NOT NULL DEFAULT '',"
	"  body TEXT NOT NULL DEFAULT '',"
	"  bodystructure TEXT NOT NULL DEFAULT '',"
	"  subject TEXT NOT NULL DEFAULT '',"
	"  from_addr TEXT NOT NULL DEFAULT '',"
	"  message_id TEXT NOT NULL DEFAULT '',"
	"  sent_date INTEGER NOT NULL DEFAULT 0,"
	"  parts TEXT NOT NULL DEFAULT '',"
	"  header_size INTEGER NOT NULL DEFAULT 0,"
	"  body_lines INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (mailbox_id, uid)"
	");"
	"CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);"
	"CREATE INDEX messages_blob ON messages (blob_id);"

	"CREATE TABLE expunged ("
	"  mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,"
	"  uid INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  PRIMARY KEY (mailbox_id, uid)"
	") WITHOUT ROWID;"
	"CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);"

	"CREATE TABLE queue ("
	"  id INTEGER PRIMARY KEY,"
	"  blob_id TEXT NOT NULL REFERENCES blobs (id),"
	"  queue_offset INTEGER NOT NULL DEFAULT 0,"
	"  size INTEGER NOT NULL,"
	"  message_id TEXT NOT NULL DEFAULT '',"
	"  sender TEXT NOT NULL,"
	"  rcpt TEXT NOT NULL,"
	"  orcpt TEXT NOT NULL DEFAULT '',"
	"  notify INTEGER NOT NULL DEFAULT 0,"
	"  ret TEXT NOT NULL DEFAULT '',"
	"  envid TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL,"
	"  next_attempt INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX queue_next ON queue (next_attempt);"
	"CREATE INDEX queue_blob ON queue (blob_id);"

	"CREATE TRIGGER messages_blob_ref AFTER INSERT ON messages BEGIN"
	"  UPDATE blobs SET refcount = refcount + 1 WHERE id = NEW.blob_id;"
	"END;"
	"CREATE TRIGGER messages_blob_unref AFTER DELETE ON messages BEGIN"
	"  UPDATE blobs SET refcount = refcount - 1 WHERE id = OLD.blob_id;"
	"END;"
	"CREATE TRIGGER queue_blob_ref AFTER INSERT ON queue BEGIN"
	"  UPDATE blobs SET refcount = refcount + 1 WHERE id = NEW.blob_id;"
	"END;"
	"CREATE TRIGGER queue_blob_unref AFTER DELETE ON queue BEGIN"
	"  UPDATE blobs SET refcount = refcount - 1 WHERE id = OLD.blob_id;"
	"END;"
	"CREATE TRIGGER blobs_free AFTER UPDATE OF refcount ON blobs WHEN NEW.refcount <= 0 BEGIN"
	"  INSERT OR IGNORE INTO blob_gc (id) VALUES (NEW.id);"
	"  DELETE FROM blobs WHERE id = NEW.id;"
	"END;",

	/*
	 * 1 -> 2: what IMAP and POP3 need.  Counters kept by triggers, so that
	 * STATUS, LIST-STATUS and quota checks cost one row read whatever the
	 * size of the mailbox; the mailbox's keyword dictionary; partial
	 * indexes for "every \Deleted message" (EXPUNGE) and "the first
	 * unseen" (SELECT) that hold only the rows concerned.
	 */
	"ALTER TABLE accounts ADD COLUMN used_storage INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE accounts ADD COLUMN used_messages INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE mailboxes ADD COLUMN keywords TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE mailboxes ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE mailboxes ADD COLUMN unseen INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE mailboxes ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE mailboxes ADD COLUMN size INTEGER NOT NULL DEFAULT 0;"

	"UPDATE mailboxes SET"
	"  messages = (SELECT count(*) FROM messages WHERE mailbox_id = mailboxes.id),"
	"  unseen = (SELECT count(*) FROM messages WHERE mailbox_id = mailboxes.id AND flags & 1 = 0),"
	"  deleted = (SELECT count(*) FROM messages WHERE mailbox_id = mailboxes.id AND flags & 8 <> 0),"
	"  size = (SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = mailboxes.id);"
	"UPDATE accounts SET"
	"  used_messages = (SELECT coalesce(sum(messages), 0) FROM mailboxes WHERE account_id = accounts.id),"
	"  used_storage = (SELECT coalesce(sum(size), 0) FROM mailboxes WHERE account_id = accounts.id);"

	"CREATE INDEX messages_deleted ON messages (mailbox_id, uid) WHERE flags & 8 <> 0;"
	"CREATE INDEX messages_unseen ON messages (mailbox_id, uid) WHERE flags & 1 = 0;"

	/* messages.mailbox_id and size never change: a move is an insert and a delete */
	"CREATE TRIGGER messages_count_ins AFTER INSERT ON messages BEGIN"
	"  UPDATE mailboxes SET messages = messages + 1, size = size + NEW.size,"
	"    unseen = unseen + (NEW.flags & 1 = 0), deleted = deleted + (NEW.flags & 8 <> 0)"
	"    WHERE id = NEW.mailbox_id;"
	"  UPDATE accounts SET used_messages = used_messages + 1, used_storage = used_storage + NEW.size"
	"    WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);"
	"END;"
	"CREATE TRIGGER messages_count_del AFTER DELETE ON messages BEGIN"
	"  UPDATE mailboxes SET messages = messages - 1, size = size - OLD.size,"
	"    unseen = unseen - (OLD.flags & 1 = 0), deleted = deleted - (OLD.flags & 8 <> 0)"
	"    WHERE id = OLD.mailbox_id;"
	"  UPDATE accounts SET used_messages = used_messages - 1, used_storage = used_storage - OLD.size"
	"    WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);"
	"END;"
	"CREATE TRIGGER messages_count_flags AFTER UPDATE OF flags ON messages WHEN OLD.flags <> NEW.flags BEGIN"
	"  UPDATE mailboxes SET unseen = unseen + (NEW.flags & 1 = 0) - (OLD.flags & 1 = 0),"
	"    deleted = deleted + (NEW.flags & 8 <> 0) - (OLD.flags & 8 <> 0)"
	"    WHERE id = NEW.mailbox_id;"
	"END;"
	/*
	 * A mailbox's messages go before it does, while the mailbox row still
	 * names its account: the cascade alone would run the delete trigger
	 * above after the row is gone, and the account's usage would not drop.
	 */
	"CREATE TRIGGER mailboxes_delete BEFORE DELETE ON mailboxes BEGIN"
	"  DELETE FROM messages WHERE mailbox_id = OLD.id;"
	"END;",

	/*
	 * 2 -> 3: \Recent (RFC 3501).  UIDs from first_recent_uid on have not
	 * been claimed by any IMAP session yet.  Mail already there when this
	 * runs counts as seen by someone.  (Parenthesised: clang takes two
	 * adjacent strings in an array for a missing comma.)
	 */
	("ALTER TABLE mailboxes ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;"
	 "UPDATE mailboxes SET first_recent_uid = uidnext;"),

	/*
	 * 3 -> 4: outbound delivery.  held: the operator stopped the entry
	 * (`tern queue hold`); warned: its sender has had the delay DSN;
	 * body_8bit / smtputf8 / requiretls: what the client declared at MAIL
	 * FROM, which the next hop must be told (or must support).
	 */
	("ALTER TABLE queue ADD COLUMN held INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE queue ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE queue ADD COLUMN body_8bit INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE queue ADD COLUMN smtputf8 INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE queue ADD COLUMN requiretls INTEGER NOT NULL DEFAULT 0;"
	 "CREATE INDEX queue_due ON queue (held, next_attempt);"),

	/*
	 * 4 -> 5: TLS reporting (RFC 8460).  One row per UTC day, policy
	 * domain, policy and failure detail; count grows by UPSERT, so a busy
	 * day costs rows per distinct outcome, not per session.  Success rows
	 * have result_type '' and empty details.  IF NOT EXISTS: a store
	 * rolled back to an older user_version (test_store_imap's migration
	 * test) keeps the table and must still migrate.
	 */
	("CREATE TABLE IF NOT EXISTS tlsrpt ("
	 "  day TEXT NOT NULL,"
	 "  domain TEXT NOT NULL,"
	 "  policy_type TEXT NOT NULL,"
	 "  policy_strings TEXT NOT NULL DEFAULT '',"
	 "  mx_hosts TEXT NOT NULL DEFAULT '',"
	 "  result_type TEXT NOT NULL DEFAULT '',"
	 "  sending_ip TEXT NOT NULL DEFAULT '',"
	 "  receiving_mx TEXT NOT NULL DEFAULT '',"
	 "  receiving_ip TEXT NOT NULL DEFAULT '',"
	 "  count INTEGER NOT NULL DEFAULT 0,"
	 "  PRIMARY KEY (day, domain, policy_type, policy_strings, result_type, sending_ip, receiving_mx,"
	 "    receiving_ip)"
	 ") WITHOUT ROWID;"),

	/*
	 * 5 -> 6: DMARC aggregate reports (RFC 7489 §7.2).  One row per UTC
	 * day, policy domain and distinct (source, identifiers, results);
	 * each SMTP loop adds its in-memory counts every minute by UPSERT.
	 * published / rua: the policy record last seen, for the report.
	 */
	("CREATE TABLE IF NOT EXISTS dmarcrpt ("
	 "  day TEXT NOT NULL,"
	 "  domain TEXT NOT NULL,"
	 "  source_ip TEXT NOT NULL,"
	 "  header_from TEXT NOT NULL,"
	 "  envelope_from TEXT NOT NULL DEFAULT '',"
	 "  disposition TEXT NOT NULL,"
	 "  eval_dkim TEXT NOT NULL,"
	 "  eval_spf TEXT NOT NULL,"
	 "  dkim_domain TEXT NOT NULL DEFAULT '',"
	 "  dkim_result TEXT NOT NULL DEFAULT '',"
	 "  spf_result TEXT NOT NULL DEFAULT '',"
	 "  published TEXT NOT NULL DEFAULT '',"
	 "  rua TEXT NOT NULL DEFAULT '',"
	 "  count INTEGER NOT NULL DEFAULT 0,"
	 "  PRIMARY KEY (day, domain, source_ip, header_from, envelope_from, disposition, eval_dkim, eval_spf,"
	 "    dkim_domain, dkim_result, spf_result)"
	 ") WITHOUT ROWID;"),

	/*
	 * 6 -> 7: subscriptions are names, not a mailbox flag (RFC 9051
	 * §6.3.10: a subscription outlives its mailbox, and LIST (SUBSCRIBED)
	 * shows it \NonExistent); a new mailbox is not subscribed, as with
	 * Dovecot.  mailboxes.subscribed is no longer read.
	 */
	("CREATE TABLE IF NOT EXISTS subscriptions ("
	 "  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	 "  name TEXT NOT NULL,"
	 "  PRIMARY KEY (account_id, name)"
	 ") WITHOUT ROWID;"
	 "INSERT OR IGNORE INTO subscriptions (account_id, name)"
	 "  SELECT account_id, name FROM mailboxes WHERE subscribed = 1;"),

	/* 7 -> 8: URLAUTH (RFC 4467): one secret key per mailbox, made on first use, dropped by RESETKEY. */
	("CREATE TABLE IF NOT EXISTS urlauth_keys ("
	 "  mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,"
	 "  key BLOB NOT NULL"
	 ");"),
};

static int user_version(struct store_sq *sq)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(sq->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

bool store_sq_migrate(struct store_sq *sq)
{
	const int latest = (int)ARRAY_LEN(migrations);

	/* Cheap check first: an up-to-date index needs no write lock. */
	int v = user_version(sq);
	if (v == latest)
		return true;
	if (!store_sq_begin(sq))
		return false;
	v = user_version(sq);   /* again, under the lock: another process may have migrated */
	if (v < 0) {
		store_sq_log_error(sq, "cannot read schema version");
		goto fail;
	}
	if (v > latest) {
		log_error("store", "msg=\"index schema is newer than this program\" version=%d known=%d", v, latest);
		goto fail;
	}
	for (int i = v; i < latest; i++) {
		if (!store_sq_exec(sq, migrations[i]))
			goto fail;
	}
	char set[64];
	snprintf(set, sizeof set, "PRAGMA user_version=%d", latest);
	if (!store_sq_exec(sq, set) || !store_sq_commit(sq))
		goto fail;
	if (v != latest)
		log_info("store", "msg=\"index schema migrated\" from=%d to=%d", v, latest);
	return true;
fail:
	store_sq_rollback(sq);
	return false;
}
