/*
 * Replays a libFuzzer corpus without libFuzzer: runs
 * LLVMFuzzerTestOneInput on every file in the directories (or files) given,
 * so that CI checks the committed corpus under gcc + ASan/UBSan. A crash,
 * sanitizer report or leak fails the run; an empty corpus is a failure too
 * (a replay that ran nothing must not pass).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "privfl/file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0;

	if (pfl_file_read(path, 64u << 20, &data, &len) != PFL_OK) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		return -1;
	}
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 1;
}

static int
replay_path(const char *path)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int count = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: no such corpus %s\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char sub[4096];
		int r;
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if ((r = replay_path(sub)) < 0) {
			closedir(d);
			return -1;
		}
		count += r;
	}
	closedir(d);
	return count;
}

int
main(int argc, char **argv)
{
	int total = 0;

	for (int i = 1; i < argc; i++) {
		int r = replay_path(argv[i]);
		if (r < 0)
			return 1;
		total += r;
	}
	printf("replayed %d inputs\n", total);
	if (total == 0) {
		fprintf(stderr, "replay: corpus is empty\n");
		return 1;
	}
	return 0;
}
