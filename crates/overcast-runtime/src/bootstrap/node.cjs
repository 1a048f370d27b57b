// Overcast's Lambda runtime for nodejs*.x: speaks the Lambda Runtime API
// (AWS_LAMBDA_RUNTIME_API); loads CommonJS and ES module handlers; async, promise and
// callback styles.
"use strict";
const http = require("http");
const path = require("path");
const fs = require("fs");
const util = require("util");
const { pathToFileURL } = require("url");

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = "/2018-06-01/runtime";

function call(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port: Number(port), method, path: base + p, agent, headers: headers || {} },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      }
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Response streaming (awslambda.streamifyResponse): the handler writes to a Writable whose
// bytes go to the Runtime API as a chunked POST in streaming mode as they are written;
// a failure after the first byte travels in the trailers.
const { Writable } = require("stream");
const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HTTP_PRELUDE = "application/vnd.awslambda.http-integration-response";
globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[STREAMING] = "response";
    if (options && options.highWaterMark) handler.highWaterMark = options.highWaterMark;
    return handler;
  },
  HttpResponseStream: class HttpResponseStream {
    static from(stream, prelude) {
      stream.setContentType(HTTP_PRELUDE);
      const meta = JSON.stringify(prelude || {});
      stream._onBeforeFirstWrite = (write) => {
        write(meta);
        write(new Uint8Array(8));
      };
      return stream;
    }
  },
};

function responseStream(id) {
  let req = null;
  let contentType = "application/octet-stream";
  let answered = null;
  let firstWrite = true;
  const open = () => {
    if (req) return req;
    req = http.request({
      host,
      port: Number(port),
      method: "POST",
      path: `${base}/invocation/${id}/response`,
      agent,
      headers: {
        "Lambda-Runtime-Function-Response-Mode": "streaming",
        "Transfer-Encoding": "chunked",
        "Content-Type": contentType,
        Trailer: "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
      },
    });
    req.setNoDelay(true);
    answered = new Promise((resolve) => {
      req.on("response", (res) => {
        res.resume();
        res.on("end", resolve);
      });
      req.on("error", resolve);
    });
    req.flushHeaders();
    return req;
  };
  const beforeFirst = () => {
    if (!firstWrite) return;
    firstWrite = false;
    if (stream._onBeforeFirstWrite) stream._onBeforeFirstWrite((c) => open().write(c));
  };
  const stream = new Writable({
    write(chunk, encoding, cb) {
      beforeFirst();
      open().write(chunk, encoding, () => cb());
    },
    final(cb) {
      beforeFirst();
      open().end();
      cb();
    },
  });
  stream.setContentType = (t) => {
    contentType = t;
  };
  stream.started = () => req !== null;
  stream.fail = (doc) => {
    open();
    if (!stream.destroyed) stream.destroy();
    if (req.writableEnded) return;
    req.addTrailers({
      "Lambda-Runtime-Function-Error-Type": doc.errorType,
      "Lambda-Runtime-Function-Error-Body": Buffer.from(JSON.stringify(doc)).toString("base64"),
    });
    req.end();
  };
  stream.answered = () => answered || Promise.resolve();
  return stream;
}

async function runStreaming(fn, event, context, id) {
  const stream = responseStream(id);
  try {
    await fn(event, stream, context);
    if (!stream.writableEnded) stream.end();
    await new Promise((resolve) => (stream.writableFinished ? resolve() : stream.on("finish", resolve)));
  } catch (e) {
    const doc = errorDoc(e);
    logError(doc, id);
    if (!stream.started()) {
      await call("POST", `/invocation/${id}/error`, JSON.stringify(doc), { "Lambda-Runtime-Function-Error-Type": doc.errorType });
      return;
    }
    stream.fail(doc);
  }
  await stream.answered();
}

let currentRequestId = "";
const jsonLogs = process.env.AWS_LAMBDA_LOG_FORMAT === "JSON";
const levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const minLevel = levels.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || "TRACE").toUpperCase());
for (const [name, level] of [["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"], ["debug", "DEBUG"], ["trace", "TRACE"]]) {
  console[name] = (...args) => {
    if (levels.indexOf(level) < minLevel) return;
    if (jsonLogs) {
      process.stdout.write(JSON.stringify({ timestamp: new Date().toISOString(), level, requestId: currentRequestId, message: util.format(...args) }) + "\n");
      return;
    }
    const line = `${new Date().toISOString()}\t${currentRequestId || "undefined"}\t${level}\t${util.format(...args)}`;
    process.stdout.write(line.replace(/\n/g, "\r") + "\n");
  };
}

function errorDoc(e) {
  if (e instanceof Error) {
    return { errorType: e.name || "Error", errorMessage: e.message, trace: String(e.stack || "").split("\n") };
  }
  return { errorType: "string", errorMessage: typeof e === "string" ? e : JSON.stringify(e), trace: [] };
}

function logError(doc, id) {
  const line = `${new Date().toISOString()}\t${id || "undefined"}\tERROR\t${JSON.stringify(doc)}`;
  process.stdout.write(line + "\n");
}

async function initError(doc) {
  logError(doc);
  await call("POST", "/init/error", JSON.stringify(doc), { "Lambda-Runtime-Function-Error-Type": doc.errorType });
  process.exit(1);
}

async function load() {
  const root = process.env.LAMBDA_TASK_ROOT || "/var/task";
  const handler = process.env._HANDLER || "";
  const dot = handler.lastIndexOf(".");
  if (dot < 0) {
    return initError({ errorType: "Runtime.MalformedHandlerName", errorMessage: "Bad handler", trace: [] });
  }
  const modPath = handler.slice(0, dot);
  const fnPath = handler.slice(dot + 1);
  const file = path.resolve(root, modPath);
  let mod;
  try {
    if (fs.existsSync(file + ".mjs")) {
      mod = await import(pathToFileURL(file + ".mjs").href);
    } else if (fs.existsSync(file + ".cjs")) {
      mod = require(file + ".cjs");
    } else if (fs.existsSync(file + ".js")) {
      try {
        mod = require(file + ".js");
      } catch (e) {
        if (e && e.code === "ERR_REQUIRE_ESM") mod = await import(pathToFileURL(file + ".js").href);
        else throw e;
      }
    } else {
      const e = new Error(`Cannot find module '${modPath}'`);
      e.code = "MODULE_NOT_FOUND";
      throw e;
    }
  } catch (e) {
    if (e && e.code === "MODULE_NOT_FOUND") {
      return initError({ errorType: "Runtime.ImportModuleError", errorMessage: `Error: ${e.message}`, trace: String(e.stack || "").split("\n") });
    }
    if (e instanceof SyntaxError) {
      return initError({ errorType: "Runtime.UserCodeSyntaxError", errorMessage: `${e.name}: ${e.message}`, trace: String(e.stack || "").split("\n") });
    }
    return initError(errorDoc(e));
  }
  let fn = mod;
  for (const part of fnPath.split(".")) fn = fn == null ? undefined : fn[part];
  if (typeof fn !== "function" && mod && mod.default) {
    fn = mod.default;
    for (const part of fnPath.split(".")) fn = fn == null ? undefined : fn[part];
  }
  if (typeof fn !== "function") {
    return initError({ errorType: "Runtime.HandlerNotFound", errorMessage: `${handler} is undefined or not exported`, trace: [] });
  }
  return fn;
}

function run(fn, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    context.done = done;
    context.succeed = (r) => done(null, r);
    context.fail = (e) => done(e || "handled");
    let ret;
    try {
      ret = fn(event, context, done);
    } catch (e) {
      return done(e);
    }
    if (ret && typeof ret.then === "function") {
      ret.then((r) => done(null, r), (e) => done(e === undefined ? new Error("undefined") : e));
    } else if (fn.length < 3) {
      done(null, ret);
    }
  });
}

(async () => {
  const fn = await load();
  let failures = 0;
  for (;;) {
    let next;
    try {
      next = await call("GET", "/invocation/next");
    } catch (e) {
      // The Runtime API is gone (Overcast stopped): so is this environment.
      if (++failures >= 3) process.exit(1);
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    if (next.status !== 200) {
      if (++failures >= 3) process.exit(1);
      continue;
    }
    failures = 0;
    const h = next.headers;
    const id = h["lambda-runtime-aws-request-id"];
    currentRequestId = id;
    const deadline = Number(h["lambda-runtime-deadline-ms"] || 0);
    if (h["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = h["lambda-runtime-trace-id"];
    else delete process.env._X_AMZN_TRACE_ID;
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      invokedFunctionArn: h["lambda-runtime-invoked-function-arn"],
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: id,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      identity: h["lambda-runtime-cognito-identity"] ? JSON.parse(h["lambda-runtime-cognito-identity"]) : undefined,
      clientContext: h["lambda-runtime-client-context"] ? JSON.parse(h["lambda-runtime-client-context"]) : undefined,
      getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    };
    let event;
    try {
      event = next.body.length ? JSON.parse(next.body.toString("utf8")) : {};
    } catch (e) {
      event = next.body.toString("utf8");
    }
    if (fn[STREAMING] === "response") {
      await runStreaming(fn, event, context, id);
      continue;
    }
    try {
      const result = await run(fn, event, context);
      const body = result === undefined ? "null" : JSON.stringify(result);
      await call("POST", `/invocation/${id}/response`, body === undefined ? "null" : body);
    } catch (e) {
      const doc = errorDoc(e);
      logError(doc, id);
      await call("POST", `/invocation/${id}/error`, JSON.stringify(doc), { "Lambda-Runtime-Function-Error-Type": doc.errorType });
    }
  }
})();
