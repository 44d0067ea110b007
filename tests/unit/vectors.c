/* vectors.c - vector file loader and coverage bookkeeping, see vectors.h. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "tests/unit/vectors.h"
#include "util/base64.h"

struct pa_vec_file {
    json_t *root;
    json_t *data;
    char name[256];
};

#define MAX_SEEN 128
static struct {
    char name[256];
    size_t count;
    size_t checked;
} seen[MAX_SEEN];
static int nseen;

static const char *vectors_dir(void)
{
    const char *d = getenv("PA_VECTORS_DIR");
    return d && *d ? d : "../shared/vectors";
}

pa_vec_file *pa_vec_open(const char *relpath)
{
    char path[1024];
    json_error_t err;
    pa_vec_file *f;

    snprintf(path, sizeof path, "%s/%s", vectors_dir(), relpath);
    f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->root = json_load_file(path, 0, &err);
    if (f->root == NULL) {
        fprintf(stderr, "\n  cannot read %s: %s\n", path, err.text);
        CU_FAIL_FATAL("vector file unreadable");
        free(f);
        return NULL;
    }
    f->data = json_object_get(f->root, "data");
    if (!json_is_array(f->data) || json_array_size(f->data) == 0) {
        json_decref(f->root);
        free(f);
        CU_FAIL("vector file has no data array");
        return NULL;
    }
    snprintf(f->name, sizeof f->name, "%s", relpath);
    return f;
}

size_t pa_vec_count(const pa_vec_file *f)
{
    return f ? json_array_size(f->data) : 0;
}

json_t *pa_vec_input(const pa_vec_file *f, size_t i)
{
    return json_object_get(json_array_get(f->data, i), "input");
}

json_t *pa_vec_output(const pa_vec_file *f, size_t i)
{
    return json_object_get(json_array_get(f->data, i), "output");
}

const char *pa_vec_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

size_t pa_vec_b64(json_t *obj, const char *key, uint8_t *out, size_t max)
{
    const char *s = pa_vec_str(obj, key);
    size_t len = 0;
    uint8_t *tmp;

    if (s == NULL) {
        fprintf(stderr, "\n  vector field %s missing\n", key);
        CU_FAIL("vector field missing");
        return (size_t)-1;
    }
    if (pa_b64_decode_alloc(s, &tmp, &len) != 0) {
        fprintf(stderr, "\n  vector field %s: bad Base64\n", key);
        CU_FAIL("vector field not decodable");
        return (size_t)-1;
    }
    if (len > max) {
        fprintf(stderr, "\n  vector field %s: longer than %zu bytes\n", key, max);
        CU_FAIL("vector field too long");
        free(tmp);
        return (size_t)-1;
    }
    memcpy(out, tmp, len);
    free(tmp);
    return len;
}

const char *pa_vec_hex(const uint8_t *b, size_t n)
{
    static char buf[4096];
    size_t i;

    for (i = 0; i < n && 2 * i + 2 < sizeof buf; i++)
        sprintf(buf + 2 * i, "%02x", b[i]);
    buf[2 * i] = '\0';
    return buf;
}

size_t pa_vec_unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;

    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;

        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

void pa_vec_done(pa_vec_file *f, size_t checked)
{
    if (f == NULL)
        return;
    if (nseen < MAX_SEEN) {
        snprintf(seen[nseen].name, sizeof seen[nseen].name, "%s", f->name);
        seen[nseen].count = pa_vec_count(f);
        seen[nseen].checked = checked;
        nseen++;
    }
    json_decref(f->root);
    free(f);
}

/* Every *.json in dir (prefix "" or "supplementary/") must have been opened
 * and fully checked. */
static void check_dir(const char *sub)
{
    char path[1024];
    struct dirent *de;
    DIR *d;
    int files = 0;

    snprintf(path, sizeof path, "%s/%s", vectors_dir(), sub);
    d = opendir(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char rel[512];
        size_t count = 0, checked = 0;
        int found = 0;

        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        files++;
        snprintf(rel, sizeof rel, "%s%s", sub, de->d_name);
        for (int i = 0; i < nseen; i++) {
            if (strcmp(seen[i].name, rel) == 0) {
                found = 1;
                count = seen[i].count;
                checked += seen[i].checked;
            }
        }
        if (!found)
            fprintf(stderr, "\n  vector file %s was never checked\n", rel);
        else if (checked < count)
            fprintf(stderr, "\n  vector file %s: %zu of %zu entries checked\n",
                    rel, checked, count);
        CU_ASSERT(found && checked >= count);
    }
    closedir(d);
    CU_ASSERT(files > 0);
}

static void test_every_vector_file_checked(void)
{
    check_dir("");
    check_dir("supplementary/");
}

int pa_vec_register_coverage_suite(void)
{
    CU_pSuite s = CU_add_suite("vector coverage", NULL, NULL);

    if (s == NULL)
        return -1;
    return CU_add_test(s, "every vector file and entry checked",
                       test_every_vector_file_checked) ? 0 : -1;
}
