/*
 * search_free.c — releasing a SEARCH key tree (search.h), which parse.c
 * builds and search.c only reads.
 *
 * Iterative, so a tree of any shape (not only the depth-limited ones the
 * parser makes) is freed without deep recursion: a node's children are
 * spliced into the chain of nodes still to free, each chain walked once.
 */
#include "imap/search.h"

#include <stdlib.h>

void imap_skey_free(struct imap_skey *k)
{
	while (k) {
		if (k->child) {
			struct imap_skey *last = k->child;
			while (last->next)
				last = last->next;
			last->next = k->next;
			k->next = k->child;
			k->child = NULL;
		}
		struct imap_skey *next = k->next;
		free(k->str);
		free(k->field);
		free(k->cache);         /* search.c's prepared form of the key, one block */
		imap_seqset_free(&k->set);
		free(k);
		k = next;
	}
}
