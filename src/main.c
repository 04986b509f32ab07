/* main.c — placeholder until the daemon lands. */
#include <stdio.h>
int main(void)
{
	puts("tern");
	return 0;
}
