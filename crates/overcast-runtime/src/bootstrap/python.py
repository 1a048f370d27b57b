# Overcast's Lambda runtime for python3.x: speaks the Lambda Runtime API
# (AWS_LAMBDA_RUNTIME_API) like AWS's awslambdaric, with the standard library only.
import http.client
import json
import os
import sys
import time


def _main():
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    host, _, port = api.partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80))
    base = "/2018-06-01/runtime"

    def call(method, path, body=None, headers=None):
        nonlocal conn
        for attempt in (0, 1):
            try:
                conn.request(method, base + path, body=body, headers=headers or {})
                r = conn.getresponse()
                return r, r.read()
            except (http.client.HTTPException, OSError):
                if attempt:
                    raise
                conn.close()
                conn = http.client.HTTPConnection(host, int(port or 80))

    def flush():
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass

    def error_doc(e, request_id="", kind=None):
        import traceback
        tb = traceback.extract_tb(e.__traceback__)
        doc = {
            "errorMessage": str(e),
            "errorType": kind or type(e).__name__,
            "requestId": request_id,
            "stackTrace": traceback.format_list(tb),
        }
        return doc

    def log_error(doc):
        lines = "".join(doc.get("stackTrace") or [])
        text = "[ERROR] %s: %s\nTraceback (most recent call last):\n%s" % (
            doc["errorType"], doc["errorMessage"], lines)
        print(text.replace("\n", "\r"), file=sys.stdout)

    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    os.chdir(task_root)

    import logging

    class _Filter(logging.Filter):
        request_id = ""

        def filter(self, record):
            record.aws_request_id = _Filter.request_id
            return True

    class _Json(logging.Formatter):
        def format(self, record):
            doc = {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + "Z",
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
                "requestId": getattr(record, "aws_request_id", ""),
            }
            if record.exc_info:
                doc["errorType"] = record.exc_info[0].__name__
                doc["stackTrace"] = self.formatException(record.exc_info).splitlines()
            return json.dumps(doc, default=str)

    handler_ = logging.StreamHandler(sys.stdout)
    json_logs = os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON"
    if json_logs:
        handler_.setFormatter(_Json())
    else:
        handler_.setFormatter(logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S"))
    logging.Formatter.converter = time.gmtime
    handler_.addFilter(_Filter())
    root = logging.getLogger()
    root.addHandler(handler_)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO" if json_logs else "WARNING").upper()
    root.setLevel(getattr(logging, level, logging.WARNING) if level != "TRACE" else logging.DEBUG)

    name = os.environ.get("_HANDLER", "")
    try:
        mod_name, fn_name = name.rsplit(".", 1)
    except ValueError:
        doc = {"errorMessage": "Bad handler '%s': not enough values to unpack (expected 2, got 1)" % name,
               "errorType": "Runtime.MalformedHandlerName", "requestId": "", "stackTrace": []}
        log_error(doc)
        flush()
        call("POST", "/init/error", json.dumps(doc), {"Lambda-Runtime-Function-Error-Type": doc["errorType"]})
        sys.exit(1)
    try:
        import importlib
        module = importlib.import_module(mod_name.replace("/", "."))
        fn = getattr(module, fn_name, None)
        if fn is None:
            doc = {"errorMessage": "Handler '%s' missing on module '%s'" % (fn_name, mod_name),
                   "errorType": "Runtime.HandlerNotFound", "requestId": "", "stackTrace": []}
        else:
            doc = None
    except ImportError as e:
        doc = {"errorMessage": "Unable to import module '%s': %s" % (mod_name, e),
               "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}
    except Exception as e:
        doc = error_doc(e, kind="Runtime.UserCodeSyntaxError" if isinstance(e, SyntaxError) else None)
    if doc is not None:
        log_error(doc)
        flush()
        call("POST", "/init/error", json.dumps(doc), {"Lambda-Runtime-Function-Error-Type": doc["errorType"]})
        sys.exit(1)

    class Context:
        def __init__(self, h):
            self.aws_request_id = h.get("Lambda-Runtime-Aws-Request-Id", "")
            self.invoked_function_arn = h.get("Lambda-Runtime-Invoked-Function-Arn", "")
            self._deadline = int(h.get("Lambda-Runtime-Deadline-Ms") or 0)
            self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
            self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
            self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
            self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
            cc = h.get("Lambda-Runtime-Client-Context")
            ci = h.get("Lambda-Runtime-Cognito-Identity")
            self.client_context = _obj(json.loads(cc)) if cc else None
            self.identity = _obj(json.loads(ci)) if ci else None
            self.tenant_id = h.get("Lambda-Runtime-Aws-Tenant-Id")

        def get_remaining_time_in_millis(self):
            return max(self._deadline - int(time.time() * 1000), 0)

        def log(self, msg):
            sys.stdout.write(str(msg))

    failures = 0
    while True:
        r, event = call("GET", "/invocation/next")
        if r.status != 200:
            # The Runtime API is shutting down: so is this environment.
            failures += 1
            if failures >= 3:
                sys.exit(1)
            time.sleep(0.01)
            continue
        failures = 0
        h = r.headers
        ctx = Context(h)
        _Filter.request_id = ctx.aws_request_id
        trace = h.get("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        path = "/invocation/%s/" % ctx.aws_request_id
        try:
            result = fn(json.loads(event) if event else {}, ctx)
            try:
                body = json.dumps(result)
            except Exception as e:
                doc = {"errorMessage": "Unable to marshal response: %s" % e,
                       "errorType": "Runtime.MarshalError", "requestId": ctx.aws_request_id, "stackTrace": []}
                log_error(doc)
                flush()
                call("POST", path + "error", json.dumps(doc), {"Lambda-Runtime-Function-Error-Type": doc["errorType"]})
                continue
            flush()
            call("POST", path + "response", body)
        except Exception as e:
            doc = error_doc(e, ctx.aws_request_id)
            log_error(doc)
            flush()
            call("POST", path + "error", json.dumps(doc), {"Lambda-Runtime-Function-Error-Type": "Runtime.Unhandled"})


class _obj:
    def __init__(self, d):
        for k, v in (d or {}).items():
            setattr(self, k, v)


_main()
