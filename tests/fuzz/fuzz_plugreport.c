/* SPDX-License-Identifier: Apache-2.0 */
/* The loader's parser of the checking child's report: the child runs the
 * plugin's code, so every byte of the report may be forged. */
#include <stddef.h>
#include <stdint.h>

#include "plug.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plug_info *info = NULL;
	char err[1024];

	if (plug_parse_report("/fuzz/plugin.so", (const char *)data, size,
			      &info, err, sizeof(err)) == 0)
		plug_info_free(info);
	return 0;
}
