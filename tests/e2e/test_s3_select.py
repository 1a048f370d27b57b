"""S3 Select (SelectObjectContent) through boto3's event stream: CSV with header modes,
quoting, delimiters and comments, JSON LINES and DOCUMENT with nested paths, GZIP and BZIP2
input,
CSV and JSON output, WHERE/LIKE/IN/BETWEEN/IS NULL/CAST, aggregates, LIMIT, functions,
ScanRange, Stats and Progress events, AWS's error codes, and selecting after a restart."""
import bz2
import gzip
import json
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

PATH = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})

PEOPLE = (
    "name,age,city\n"
    "Ann,31,Paris\n"
    "# a comment line\n"
    "Bob,25,\"Rome, IT\"\n"
    "Cid,40,Oslo\n"
    "Dee,,Lima\n"
)


@pytest.fixture
def s3(client):
    return client("s3", config=PATH)


@pytest.fixture
def bucket(s3):
    name = f"sel-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def select(s3, bucket, key, sql, inp=None, out=None, **kw):
    resp = s3.select_object_content(
        Bucket=bucket, Key=key, Expression=sql, ExpressionType="SQL",
        InputSerialization=inp or {"CSV": {"FileHeaderInfo": "USE"}},
        OutputSerialization=out or {"CSV": {}}, **kw)
    records, stats, progress, end = b"", None, None, False
    for event in resp["Payload"]:
        if "Records" in event:
            records += event["Records"]["Payload"]
        elif "Stats" in event:
            stats = event["Stats"]["Details"]
        elif "Progress" in event:
            progress = event["Progress"]["Details"]
        elif "End" in event:
            end = True
    assert end, "the stream must finish with an End event"
    return records.decode(), stats, progress


def expect(code, fn, **kwargs):
    with pytest.raises(ClientError) as e:
        fn(**kwargs)
    assert e.value.response["Error"]["Code"] == code, e.value.response
    return e.value.response


def test_csv_filters_projections_and_stats(s3, bucket):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=PEOPLE.encode())
    out, stats, _ = select(s3, bucket, "people.csv",
                           "SELECT s.name, s.city FROM S3Object s "
                           "WHERE CAST(NULLIF(s.age, '') AS INT) > 30")
    assert out == "Ann,Paris\nCid,Oslo\n"
    assert stats["BytesScanned"] == len(PEOPLE)
    assert stats["BytesProcessed"] == len(PEOPLE)
    assert stats["BytesReturned"] == len(out)
    out, _, _ = select(s3, bucket, "people.csv", "SELECT * FROM S3Object LIMIT 2")
    assert out == 'Ann,31,Paris\nBob,25,"Rome, IT"\n'
    out, _, _ = select(s3, bucket, "people.csv",
                       "SELECT name FROM S3Object WHERE city LIKE '%o%' AND name IN ('Bob', 'Cid')")
    assert out == "Bob\nCid\n"
    out, _, _ = select(s3, bucket, "people.csv",
                       "SELECT name FROM S3Object WHERE NULLIF(age, '') IS NULL")
    assert out == "Dee\n"
    out, _, _ = select(s3, bucket, "people.csv",
                       "SELECT _1 FROM S3Object WHERE CAST(NULLIF(_2, '') AS INT) BETWEEN 25 AND 31",
                       inp={"CSV": {"FileHeaderInfo": "IGNORE"}})
    assert out == "Ann\nBob\n"
    out, _, _ = select(s3, bucket, "people.csv", "SELECT _1 FROM S3Object LIMIT 1",
                       inp={"CSV": {"FileHeaderInfo": "NONE"}})
    assert out == "name\n"


def test_aggregates_functions_and_json_output(s3, bucket):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=PEOPLE.encode())
    out, _, _ = select(s3, bucket, "people.csv",
                       "SELECT COUNT(*), SUM(CAST(NULLIF(age, '') AS INT)), "
                       "AVG(CAST(NULLIF(age, '') AS INT)), MIN(name), "
                       "MAX(CAST(NULLIF(age, '') AS INT)), COUNT(NULLIF(age, '')) FROM S3Object")
    assert out == "4,96,32.0,Ann,40,3\n"
    out, _, _ = select(s3, bucket, "people.csv",
                       "SELECT UPPER(s.name) AS n, CHAR_LENGTH(s.city) AS len, "
                       "SUBSTRING(s.city, 1, 2), LOWER(TRIM(BOTH 'O' FROM s.city)) "
                       "FROM S3Object s WHERE s.name = 'Cid'",
                       out={"JSON": {}})
    assert [json.loads(line) for line in out.splitlines()] == [
        {"n": "CID", "len": 4, "_3": "Os", "_4": "slo"}]
    out, _, _ = select(s3, bucket, "people.csv",
                       "SELECT EXTRACT(YEAR FROM DATE_ADD(day, 1, TO_TIMESTAMP('2020-12-31T'))), "
                       "TO_STRING(TO_TIMESTAMP('2021-03-04T05:06:07Z'), 'yyyy/MM/dd HH:mm'), "
                       "COALESCE(NULL, 'x'), UTCNOW() IS NOT NULL FROM S3Object LIMIT 1")
    assert out == "2021,2021/03/04 05:06,x,true\n"


def test_csv_dialect_options_and_output_quoting(s3, bucket):
    body = "a|b\n'x|y'|2\n;skip me\nz|'it''s'\n"
    s3.put_object(Bucket=bucket, Key="pipes.csv", Body=body.encode())
    out, _, _ = select(s3, bucket, "pipes.csv", "SELECT a, b FROM S3Object",
                       inp={"CSV": {"FileHeaderInfo": "USE", "FieldDelimiter": "|",
                                    "QuoteCharacter": "'", "Comments": ";"}},
                       out={"CSV": {"FieldDelimiter": ";", "RecordDelimiter": "\r\n",
                                    "QuoteFields": "ALWAYS"}})
    assert out == '"x|y";"2"\r\n"z";"it\'s"\r\n'


def test_json_lines_document_and_gzip(s3, bucket):
    lines = "\n".join(json.dumps(r) for r in [
        {"id": 1, "user": {"name": "ann", "tags": ["a", "b"]}, "score": 9.5},
        {"id": 2, "user": {"name": "bob", "tags": []}, "score": 3},
        {"id": 3, "user": {"name": "cid"}},
    ]) + "\n"
    s3.put_object(Bucket=bucket, Key="rows.jsonl", Body=lines.encode())
    out, _, _ = select(s3, bucket, "rows.jsonl",
                       "SELECT s.id, s.user.name AS who, s.user.tags[0] AS first FROM S3Object s "
                       "WHERE s.score IS MISSING OR s.score > 5",
                       inp={"JSON": {"Type": "LINES"}}, out={"JSON": {}})
    assert [json.loads(x) for x in out.splitlines()] == [
        {"id": 1, "who": "ann", "first": "a"}, {"id": 3, "who": "cid"}]
    out, _, _ = select(s3, bucket, "rows.jsonl", "SELECT * FROM S3Object s WHERE s.id = 2",
                       inp={"JSON": {"Type": "LINES"}}, out={"JSON": {}})
    assert json.loads(out) == {"id": 2, "user": {"name": "bob", "tags": []}, "score": 3}
    doc = json.dumps({"items": [{"n": 1, "k": "a"}, {"n": 2, "k": "b"}, {"n": 3, "k": "c"}]},
                     indent=2)
    s3.put_object(Bucket=bucket, Key="doc.json", Body=doc.encode())
    out, _, _ = select(s3, bucket, "doc.json",
                       "SELECT i.k FROM S3Object[*].items[*] i WHERE i.n >= 2",
                       inp={"JSON": {"Type": "DOCUMENT"}})
    assert out == "b\nc\n"
    packed = gzip.compress(PEOPLE.encode())
    s3.put_object(Bucket=bucket, Key="people.csv.gz", Body=packed)
    out, stats, progress = select(
        s3, bucket, "people.csv.gz", "SELECT COUNT(*) FROM S3Object",
        inp={"CSV": {"FileHeaderInfo": "USE"}, "CompressionType": "GZIP"},
        RequestProgress={"Enabled": True})
    assert out == "4\n"
    assert stats["BytesScanned"] == len(packed)
    assert stats["BytesProcessed"] == len(PEOPLE)
    assert progress["BytesProcessed"] == len(PEOPLE)
    # BZIP2, several blocks (level 1 = 100 kB blocks) and concatenated streams.
    rows = "".join(f"{i},{i % 7}\n" for i in range(40000)).encode()
    packed = bz2.compress(rows[:200000], 1) + bz2.compress(rows[200000:], 1)
    s3.put_object(Bucket=bucket, Key="rows.csv.bz2", Body=packed)
    out, stats, _ = select(
        s3, bucket, "rows.csv.bz2", "SELECT COUNT(*), SUM(CAST(_2 AS INT)) FROM S3Object",
        inp={"CSV": {"FileHeaderInfo": "NONE"}, "CompressionType": "BZIP2"})
    assert out == f"40000,{sum(i % 7 for i in range(40000))}\n"
    assert stats["BytesScanned"] == len(packed) and stats["BytesProcessed"] == len(rows)
    s3.put_object(Bucket=bucket, Key="broken.bz2", Body=packed[:-10])
    expect("TruncatedInput", lambda: select(
        s3, bucket, "broken.bz2", "SELECT COUNT(*) FROM S3Object",
        inp={"CSV": {}, "CompressionType": "BZIP2"}))


def test_scan_range_selects_whole_records(s3, bucket):
    body = "".join(f"{i},row{i}\n" for i in range(10))  # 7 bytes per record
    s3.put_object(Bucket=bucket, Key="rows.csv", Body=body.encode())
    out, stats, _ = select(s3, bucket, "rows.csv", "SELECT _1 FROM S3Object",
                           inp={"CSV": {"FileHeaderInfo": "NONE"}},
                           ScanRange={"Start": 3, "End": 20})
    # records starting at bytes 7 and 14 (the one at 0 began before the range)
    assert out == "1\n2\n"
    assert stats["BytesScanned"] == 18


def test_errors_have_aws_codes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=PEOPLE.encode())
    s3.put_object(Bucket=bucket, Key="latin1.csv", Body="caf\xe9\n".encode("latin-1"))
    base = dict(Bucket=bucket, Key="people.csv", ExpressionType="SQL",
                InputSerialization={"CSV": {"FileHeaderInfo": "USE"}},
                OutputSerialization={"CSV": {}})

    def run(**over):
        resp = s3.select_object_content(**{**base, **over})
        for _ in resp["Payload"]:
            pass

    for sql, code in [
        ("SELECT name FROM S3Object WHERE name = = 'x'", "ParseExpectedExpression"),
        ("SELECT name FROM S3Object WHERE name = 'x' 'y'", "ParseUnexpectedToken"),
        ("SELECT name S3Object", "ParseSelectMissingFrom"),
        ("SELECT *, name FROM S3Object", "ParseAsteriskIsNotAloneInSelectList"),
        ("SELECT name FROM S3Object WHERE name ^ 1", "LexerInvalidChar"),
        ("SELECT CAST(name AS INT) FROM S3Object", "CastFailed"),
    ]:
        r = expect(code, run, Expression=sql)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
    expect("InvalidTextEncoding", run, Key="latin1.csv", Expression="SELECT * FROM S3Object")
    expect("InvalidFileHeaderInfo", run, Expression="SELECT * FROM S3Object",
           InputSerialization={"CSV": {"FileHeaderInfo": "MAYBE"}})
    expect("InvalidCompressionFormat", run, Expression="SELECT * FROM S3Object",
           InputSerialization={"CSV": {}, "CompressionType": "ZIP"})
    expect("InvalidExpressionType", run, Expression="SELECT * FROM S3Object",
           ExpressionType="XPATH")
    expect("NoSuchKey", run, Key="missing.csv", Expression="SELECT * FROM S3Object")
    expect("NoSuchBucket", run, Bucket=f"nope-{uuid.uuid4().hex[:8]}",
           Expression="SELECT * FROM S3Object")


def test_select_after_restart(overcast, s3, bucket):
    s3.put_object(Bucket=bucket, Key="people.csv", Body=PEOPLE.encode())
    overcast.restart()
    out, _, _ = select(s3, bucket, "people.csv", "SELECT name FROM S3Object WHERE age = '25'")
    assert out == "Bob\n"
