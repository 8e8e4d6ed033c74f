#!/usr/bin/env python3
"""make_seeds.py: writes the fuzz targets' seed corpora, corpus/<target>/, from real
inputs: the Fernet vectors of tests/data/fernet, the engines' recorded answers of
tests/data/engines, and the examples of the unit tests and the README (bodies, URLs,
DATABASE_URLs, request targets). Run it from anywhere after changing the data or the
lists below; it rewrites the seeds it owns and leaves other files in corpus/ alone.

Standard library only. Seeds are named for what they are: a finding worth keeping (a
crash's input, once fixed) can be dropped into corpus/<target>/ by hand as well.
"""
import base64
import hashlib
import hmac
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def load(*parts):
    with open(os.path.join(DATA, *parts), "rb") as f:
        return f.read()


# ---- fuzz_fernet: '0' token, '1' signed bytes, '2' key, '3' WFREG_FERNET_KEYS ----------

def fernet():
    verify = json.loads(load("fernet", "verify.json"))[0]
    key = verify["secret"]
    write("fuzz_fernet", "token-verify", "0" + verify["token"])
    for f in ("invalid.json", "invalid-strict-base64-pr11.json"):
        for i, c in enumerate(json.loads(load("fernet", f))):
            slug = "".join(ch if ch.isalnum() else "-" for ch in c["desc"])[:40]
            write("fuzz_fernet", f"token-invalid-{slug}", "0" + c["token"])
    raw = base64.urlsafe_b64decode(verify["token"])
    write("fuzz_fernet", "signed-verify", b"1" + raw[:-32])
    write("fuzz_fernet", "signed-bad-padding", b"1" + raw[:-48] + bytes(16))
    write("fuzz_fernet", "signed-empty-ciphertext", b"1" + raw[:25])
    write("fuzz_fernet", "key-spec", "2" + key)
    write("fuzz_fernet", "key-not-canonical", "2" + key[:-2] + "5=")
    other = base64.urlsafe_b64encode(hashlib.sha256(b"wfreg").digest()).decode()
    write("fuzz_fernet", "keyring-two", "3" + other + "," + key)
    write("fuzz_fernet", "keyring-spaces", "3 " + key + " , " + other + " ")
    write("fuzz_fernet", "keyring-bad-second", "3" + key + ",nope")


# ---- the adapters: "<job> [variant]" NUL "<status> [type]\n<body>" NUL ... -------------

def frame(job, *answers):
    out = job.encode()
    for a in answers:
        out += b"\0" + (a if isinstance(a, bytes) else a.encode())
    return out


def ok(name, status=200):
    return f"{status} application/json\n".encode() + load("engines", name)


def adapters():
    n8n = "fuzz_n8n"
    write(n8n, "test-up", frame("test", ok("n8n_workflows_page1.json")))
    write(n8n, "test-401", frame("test", '401\n{"message":"unauthorized"}'))
    write(n8n, "test-html", frame("test", "200 text/html; charset=utf-8\n<html>n8n</html>"))
    write(n8n, "workflows-two-pages",
          frame("workflows", ok("n8n_workflows_page1.json"), ok("n8n_workflows_page2.json")))
    write(n8n, "start-webhook",
          frame("start", ok("n8n_workflow_webhook.json"), ok("n8n_executions.json"),
                '200\n{"data":[]}', "200\n{}", ok("n8n_executions.json"),
                '200\n{"data":[{"id":"43","status":"running","workflowId":"7"}]}'))
    write(n8n, "status-execution", frame("status", ok("n8n_execution.json")))
    write(n8n, "status-timeout", frame("status", "timeout"))
    # what the target found: the key echoed in a header, or spelled by an escape
    write(n8n, "test-key-in-content-type",
          frame("test", "200 text/plain; echo=fuzz-api-key-0123456789\nok"))
    write(n8n, "test-key-after-escape",
          frame("test", b"500 text/plain\n\x9fuzz-api-key-0123456789"))

    pf = "fuzz_prefect"
    write(pf, "test-up", frame("test", "200\ntrue", '200\n"3.1.4"', "200\n[]"))
    write(pf, "test-cloud", frame("test cloud", "200\ntrue", "200\n[]"))
    write(pf, "test-503", frame("test", '503\n{"detail":"Service Unavailable"}'))
    write(pf, "workflows",
          frame("workflows", ok("prefect_flows.json"), ok("prefect_deployments.json")))
    write(pf, "workflows-lower-limit",
          frame("workflows none",
                '422\n{"detail":"Invalid limit: must be less than or equal to 2."}',
                ok("prefect_flows.json"), ok("prefect_deployments.json")))
    write(pf, "start-scheduled", frame("start", ok("prefect_flow_run_scheduled.json", 201)))
    write(pf, "status-completed", frame("status", ok("prefect_flow_run_completed.json")))
    write(pf, "status-late", frame("status cloud", ok("prefect_flow_run_late.json")))
    write(pf, "status-422", frame("status", '422\n{"exception_message":"Invalid request"}'))

    wm = "fuzz_windmill"
    write(wm, "test-up", frame("test", "200 text/plain\nCE v1.743.0", "200\n[]"))
    write(wm, "test-wrong-workspace",
          frame("test", "200 text/plain\nCE v1.743.0", "401 text/plain\nUnauthorized",
                '200\n{"email":"a@b.c"}'))
    write(wm, "workflows",
          frame("workflows", ok("windmill_flows.json"), "200\n[]", ok("windmill_scripts.json"),
                "200\n[]"))
    write(wm, "start-flow",
          frame("start flow", '201 text/plain\n"018f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"',
                ok("windmill_job_queued.json")))
    write(wm, "start-script-after-404",
          frame("start", "404 text/plain\nNot found: flow", 
                "201 text/plain\n018f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                ok("windmill_job_queued.json")))
    write(wm, "status-cancelled", frame("status", ok("windmill_job_cancelled.json")))
    write(wm, "status-not-logged-in",
          frame("status", "400 text/plain\nAs a non logged in user, only anonymous jobs"))


# ---- text inputs -------------------------------------------------------------------------

BODIES = [
    {"name": "n8n-prod", "engine_type": "n8n", "api_url": "https://n8n.example.com",
     "api_key": "n8n_api_0123456789", "config": {"timeout_ms": 5000, "verify_tls": True}},
    {"name": "wm", "engine_type": "windmill", "api_url": "http://127.0.0.1:8000",
     "config": {"workspace": "ops"}, "active": False},
    {"name": "pf.cloud", "engine_type": "prefect",
     "api_url": "https://api.prefect.cloud/api/accounts/a/workspaces/w",
     "api_key": "pnu_x", "config": {"auth": "bearer", "x": 1.1, "y": [1e300, -0.0, None]}},
    {"active": False},
    {"api_key": None},
    {"engine_type": "windmill"},
    {"config": {"workspace": "", "timeout_ms": 0, "verify_tls": "yes"}},
    {"name": "Bad Name!", "engine_type": "airflow", "api_url": "ftp://u:p@h#f", "api_key": ""},
    {"name": 5, "active": "yes", "config": [], "api_key": 7, "nmae": "typo"},
    {"name": "caf\u00e9", "api_url": "http://[::1]:65536/"},
]


def text_seeds():
    for i, b in enumerate(BODIES):
        write("fuzz_engine_body", f"body-{i:02d}", json.dumps(b))
    write("fuzz_engine_body", "body-duplicate-key", '{"name":"a","name":"b"}')
    write("fuzz_engine_body", "body-nul", '{"name":"a\\u0000b","engine_type":"n8n"}')

    urls = [
        "https://n8n.example.com", "http://127.0.0.1:5678/", "http://[::1]:4200/api",
        "https://api.prefect.cloud/api/accounts/a/workspaces/w", "HTTP://Host:65535/p?q=1&r",
        "http://user:pw@host/", "http://host/#frag", "http://host:0/", "http://h%41st/",
        "http://host\\@evil.example/", "https://exa mple.com", "http://host:80:80/",
        "http://[::ffff:1.2.3.4]/", "http://a..b/", "http://-a/", "http://host?x=@y",
        "http://host/path/../../x", "http://127.1/", "http://[fe80::1%25eth0]/",
    ]
    for i, u in enumerate(urls):
        write("fuzz_api_url", f"url-{i:02d}", u)

    dbs = [
        "postgresql://user:secret@host:5432/db?sslmode=require",
        "postgres://user:secret@host", "postgresql://user:p%40ss%3Aw%2F@host/db",
        "postgresql://user:p@ss@w0rd@host/db", "postgresql://user:pw@[::1]:5432/db",
        "postgresql://user:pw@h1:5432,h2:5433/db",
        "postgresql://host/db?user=u&password=secret&sslmode=require",
        "postgresql://u:a1@h/db?password=b2", "postgresql://h/db?sslpassword=k&PASSWORD=x",
        "postgresql://user:a/b?c#d@host:5432/db?sslmode=require",
        "postgresql+psycopg2://user:secret@host/db", "postgresql:///db?host=/run/postgresql",
        "host=db user=u password=secret dbname=x", "host=db password = secret port=5432",
        "host=db password='se cret \\' x' dbname=x", "host=db sslpassword=k1 password=k2",
        "sqlite:./var/wfreg.db", "sqlite:///srv/a:b@c.db",
        # what the target found (each a fixed bug, with its unit test in test_config.c)
        "host=db password=secret application_name=https://app.example",
        "postgresql+psy@copg2://user:secret@host/db",
        " ".join(f"password=p{i}" for i in range(1, 10)) + " host=h",
        "postgresql://h/db?pass%77ord=secret&%73slpassword=k",
        "host=db password=se\\ cret dbname=x", "host=db\vpassword=secret",
        "postgresql://h/db?password=a#b&x=1",
        "postgresql://host/db?user=u&password=://s@cret&sslmode=require",
        "host=db password\v= secret", "host=db password='x y'password= z",
    ]
    for i, u in enumerate(dbs):
        write("fuzz_db_url", f"db-{i:02d}", u)

    routes = [
        "G/api/v1/engines?limit=10&offset=0&active=true&source=database&engine_type=n8n",
        "G/api/v1/engines/n8n%20prod", "A/api/v1/engines/wm", "D/api/v1/engines/victim%00x",
        "P/api/v1/engines/wm/workflows/f%2Fops%2Fsync/runs",
        "G/api/v1/engines/pf/runs/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "G/api/v1/engines/x/history", "P/api/v1/engines/x/test", "G/api/v1/workflows?engine=a",
        "P/api/v1/auth/login", "G/api/v1/auth/me", "H/ui/app.js", "G/", "U/api/v1/engines",
        "G//api/v1/engines", "G/api/v1/engines//history", "G/healthz?x=%zz&y&=&a=b=c",
        "Ghttp://host:8080/api/v1/engines?limit=1", "G/readyz#frag", "O*",
    ]
    for i, r in enumerate(routes):
        write("fuzz_route", f"route-{i:02d}", r)


if __name__ == "__main__":
    fernet()
    adapters()
    text_seeds()
