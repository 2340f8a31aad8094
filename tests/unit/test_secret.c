/* test_secret.c: key memory registered with secret.c reads as zeroes in a
 * fork() child (MADV_WIPEONFORK), and secret_wipe_all() leaves the parent's
 * keys alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "secret.h"

#define KEY_LEN	32

/* In a child: 0 if the key reads as zeroes after secret_wipe_all(). */
static int
child_sees_zeroes(const unsigned char *key)
{
	secret_wipe_all();
	for (size_t i = 0; i < KEY_LEN; i++)
		if (key[i] != 0)
			return 1;
	return 0;
}

/* Fork; the child's exit status says what it saw. */
static int
fork_check(const unsigned char *key)
{
	pid_t	pid = fork();
	int	st;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_sees_zeroes(key));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void
test_registered_key_wiped_in_child(void **state)
{
	struct secret	 sec;
	unsigned char	*key;

	(void)state;
	assert_true(sodium_init() >= 0);
	assert_non_null(key = sodium_malloc(KEY_LEN));
	memset(key, 0xa5, KEY_LEN);
	/* Not registered: the child inherits the bytes. */
	assert_int_equal(fork_check(key), 1);
	secret_register(&sec, key, KEY_LEN, 0);
	assert_int_equal(fork_check(key), 0);
	/* The parent's copy is intact. */
	for (size_t i = 0; i < KEY_LEN; i++)
		assert_int_equal(key[i], 0xa5);
	secret_unregister(&sec);
	secret_unregister(&sec);	/* twice is fine */
	sodium_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered_key_wiped_in_child),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
