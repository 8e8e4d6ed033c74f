/*
 * fuzz_n8n.c: n8n's answers through the n8n adapter's parsers (src/engines/n8n.c): the
 * workflows pages and their cursors, a workflow's nodes (its Webhook trigger), the
 * executions lists that find a webhook's run, an execution's state. adapter_driver.h
 * has the input's format and the checks.
 */
#include "adapter_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_engine n8n = {
        .type = "n8n",
        .url = "http://n8n.test:5678/",
        .cloud_url = NULL,
        .config = "{}",
        .workflow_id = "7",
        .run_id = "42",
    };
    return fuzz_adapter(&n8n, data, size);
}
