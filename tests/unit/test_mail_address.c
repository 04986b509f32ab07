/*
 * test_mail_address.c — RFC 5322 address-list parsing (src/mail/address.c)
 * and its ENVELOPE form (mail_envelope_write_addresses).
 *
 * Each case gives the field value and the exact IMAP address list; the
 * RFC 5322 appendix A examples are among them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "mail/address.h"
#include "mail/envelope.h"

static void check(const char *in, const char *want)
{
	struct mail_address *a = mail_address_parse(in, strlen(in));
	struct buf b = BUF_INIT;
	mail_envelope_write_addresses(&b, a);
	print_message("%s\n", in);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
	mail_address_free(&a);
	assert_null(a);
}

static void test_simple(void **state)
{
	(void)state;
	check("user@example.com", "((NIL NIL \"user\" \"example.com\"))");
	check("  John Doe <jdoe@machine.example>  ", "((\"John Doe\" NIL \"jdoe\" \"machine.example\"))");
	check("<jdoe@machine.example>", "((NIL NIL \"jdoe\" \"machine.example\"))");
	check("\"Joe Q. Public\" <john.q.public@example.com>",
	      "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\"))");
	check("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	      "((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")"
	      "(\"Who?\" NIL \"one\" \"y.test\"))");
	check("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
	      "((NIL NIL \"boss\" \"nil.test\")(\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\"))");
	/* obsolete phrase with a dot, words joined with the spacing of the input */
	check("Joe Q. Public <jqp@x>", "((\"Joe Q. Public\" NIL \"jqp\" \"x\"))");
	/* encoded words are not decoded in ENVELOPE */
	check("=?utf-8?q?J=C3=B6rg?= <j@x>", "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\"))");
}

static void test_empty(void **state)
{
	(void)state;
	check("", "NIL");
	check("   ", "NIL");
	check("(just a comment)", "NIL");
	check(",,, ,", "NIL");
}

static void test_groups(void **state)
{
	(void)state;
	check("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	      "((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")"
	      "(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL))");
	check("Undisclosed recipients:;", "((NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL))");
	check("undisclosed-recipients: ;", "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))");
	/* a group, then a plain address */
	check("g: a@b; c@d", "((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)(NIL NIL \"c\" \"d\"))");
	/* unterminated group still ends */
	check("g: a@b, c@d", "((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL))");
	/* quoted group name */
	check("\"My: Group\": x@y;", "((NIL NIL \"My: Group\" NIL)(NIL NIL \"x\" \"y\")(NIL NIL NIL NIL))");
}

static void test_comments(void **state)
{
	(void)state;
	/* RFC 5322 A.5 */
	check("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	      "((\"Pete\" NIL \"pete\" \"silly.test\"))");
	check("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
	      "((NIL NIL \"Hidden recipients\" NIL)(NIL NIL NIL NIL))");
	/* the comment names an address without a display name */
	check("jdoe@example.org (John Doe)", "((\"John Doe\" NIL \"jdoe\" \"example.org\"))");
	check("(first) jdoe@example.org (second)", "((\"second\" NIL \"jdoe\" \"example.org\"))");
	check("jdoe@example.org ((nested) comment)", "((\"(nested) comment\" NIL \"jdoe\" \"example.org\"))");
	/* unterminated comment */
	check("a@b (never closed", "((\"never closed\" NIL \"a\" \"b\"))");
}

static void test_obsolete(void **state)
{
	(void)state;
	check("Mary Smith <@node.test:mary@example.net>",
	      "((\"Mary Smith\" \"@node.test\" \"mary\" \"example.net\"))");
	check("<@a.test,@b.test:x@c.test>", "((NIL \"@a.test,@b.test\" \"x\" \"c.test\"))");
	check("<@a.test, ,@b.test:x@c.test>", "((NIL \"@a.test,@b.test\" \"x\" \"c.test\"))");
	/* obs-local-part and obs-domain with spaces and comments */
	check("jdoe@test  . example", "((NIL NIL \"jdoe\" \"test.example\"))");
	check("john . q (x) . public @ example . com", "((\"x\" NIL \"john.q.public\" \"example.com\"))");
	/* domain literal */
	check("root@[192.0.2.1]", "((NIL NIL \"root\" \"[192.0.2.1]\"))");
}

static void test_quoted_local_part(void **state)
{
	(void)state;
	/* kept quoted when it is not a dot-atom, so mailbox@host stays an address */
	check("\"john doe\"@example.com", "((NIL NIL \"\\\"john doe\\\"\" \"example.com\"))");
	check("\"plain\"@example.com", "((NIL NIL \"plain\" \"example.com\"))");
	check("\"a\\\"b\"@x", "((NIL NIL \"\\\"a\\\\\\\"b\\\"\" \"x\"))");
}

static void test_garbage(void **state)
{
	(void)state;
	check("foo", "((NIL NIL \"foo\" \"MISSING_DOMAIN\"))");
	check("@example.com", "((NIL NIL \"MISSING_MAILBOX\" \"example.com\"))");
	check("<>", "((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
	check("Name <broken", "((\"Name\" NIL \"broken\" \"MISSING_DOMAIN\"))");
	check("Name <a@b", "((\"Name\" NIL \"a\" \"b\"))");
	check("John Doe jdoe@x", "((NIL NIL \"jdoe\" \"x\"))");
	check("a@b junk <c@d>, e@f", "((NIL NIL \"a\" \"b\")(NIL NIL \"e\" \"f\"))");
	check("<a@b> trailing, c@d", "((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\"))");
	check("a@b;c@d", "((NIL NIL \"a\" \"b\"))");
	check(">>>", "((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
	check("\"unterminated <a@b>", "((NIL NIL \"\\\"unterminated <a@b>\\\"\" \"MISSING_DOMAIN\"))");
	/* 8-bit (RFC 6532) goes out as literals */
	check("J\xc3\xb6rg <j@b\xc3\xbc.example>",
	      "(({5}\r\nJ\xc3\xb6rg NIL \"j\" {11}\r\nb\xc3\xbc.example))");

	struct mail_address *a = mail_address_parse("foo", 3);
	assert_true(a->invalid);
	mail_address_free(&a);
	a = mail_address_parse("x@y", 3);
	assert_false(a->invalid);
	mail_address_free(&a);
}

/* Input is (pointer, length): bytes past n are never looked at. */
static void test_length_respected(void **state)
{
	(void)state;
	const char s[] = "a@b, c@d";
	struct mail_address *a = mail_address_parse(s, 3);
	assert_non_null(a);
	assert_null(a->next);
	assert_string_equal(a->domain, "b");
	mail_address_free(&a);
	a = mail_address_parse("a@b\0c@d", 7);  /* NUL is just a character */
	assert_non_null(a);
	mail_address_free(&a);
}

static void test_limits(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (int i = 0; i < 30000; i++)
		buf_puts(&b, "a@b,");
	struct mail_address *a = mail_address_parse(b.data, b.len);
	size_t n = 0;
	for (struct mail_address *x = a; x; x = x->next)
		n++;
	assert_int_equal(n, MAIL_ADDR_MAX);
	mail_address_free(&a);
	buf_reset(&b);
	for (int i = 0; i < 20000; i++)
		buf_putc(&b, '(');
	a = mail_address_parse(b.data, b.len);
	assert_null(a);
	buf_free(&b);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_obsolete),
		cmocka_unit_test(test_quoted_local_part),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_length_respected),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
