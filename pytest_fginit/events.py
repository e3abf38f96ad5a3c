"""Trigger events: the ``event`` a Python handler receives from each trigger. [test process]

One factory per trigger type code. Called bare, a factory gives the console's test-event
template (trigger-events reference, section 2), verbatim; each keyword sets the field a test
varies, and what the platform encodes is encoded (an APIG body in base64, DIS records in
base64, LTS data twice over). The fields no keyword names keep the template's values. Each call
returns a new plain `dict`, the caller's to change. `load` reads a saved test event.

Shared conventions: a text field (a message, a timer's additional information) takes a str,
or a dict or list that is sent as its JSON text; a payload (an APIG body, a DIS record) takes
bytes, a str (UTF-8) or a JSON value. A wrong argument is a `TypeError` or a `ValueError` whose
message starts ``events.<factory>(): <argument>`` and says what is allowed.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal
from urllib.parse import quote_plus

from ._events import apig as _apig
from ._events import checks as _checks
from ._events import templates as _t

__all__ = ["apig", "cts", "dds", "dis", "eventgrid", "gaussmongo", "iotedge", "kafka", "load",
           "lts", "obs", "rabbitmq", "rocketmq", "smn", "timer"]

OBS_EVENT_NAMES: Final = ("ObjectCreated:Put", "ObjectCreated:Post", "ObjectCreated:Copy",
                          "ObjectCreated:CompleteMultipartUpload", "ObjectRemoved:Delete",
                          "ObjectRemoved:DeleteMarkerCreated")
"""The OBS event names a record carries (OTC ``fg-obss3-event``)."""
DOCUMENT_OPERATIONS: Final = ("insert", "update", "replace", "delete")
"""[assumption] DDS and GeminiDB Mongo event names: MongoDB's change-stream operations on a
document (the templates show ``insert`` only)."""
TIMER_VERSIONS: Final = ("v2.0", "v1.0")
EVENTGRID_SOURCES: Final = ("RABBITMQ", "ROCKETMQ")


def apig(method: str = "GET", path: str = "/apig-event-template", *, body: Any = None,
         headers: Mapping[str, str | Sequence[str] | None] | None = None,
         query: Mapping[str, str | Sequence[str]] | None = None,
         path_params: Mapping[str, str] | None = None, base64_body: bool = True,
         request_id: str | None = None, stage: str | None = None,
         user_data: str | None = None) -> dict[str, Any]:
    """An API Gateway request (``APIG``, ``DEDICATEDGATEWAY``; E1).

    ``body``: bytes, a str, or a JSON value (which also sets ``content-type:
    application/json`` unless ``headers`` says otherwise); base64-encoded with
    ``isBase64Encoded: true`` (APIG's default) unless ``base64_body=False``. ``headers`` are
    laid over the template's (a gateway's and a browser's), names lower-cased; a ``None``
    value removes one. ``query`` and ``path_params`` replace the template's (``query={}``:
    none); a query or header value may be a list of str. ``user_data`` (custom
    authentication) is added only when given.
    """
    return _apig.request(method, path, body=body, headers=headers, query=query,
                         path_params=path_params, base64_body=base64_body,
                         request_id=request_id, stage=stage, user_data=user_data)


def timer(user_event: str | dict[str, Any] | list[Any] = "User Event", name: str = "Timer_001",
          *, time: str = "2023-06-01T08:30:00+08:00",
          version: Literal["v2.0", "v1.0"] = "v2.0") -> dict[str, Any]:
    """A timer trigger's event (``TIMER``; E5): ``user_event`` is the trigger's additional
    information, passed as the string it is configured as. ``version``: the console's
    ``v2.0``, or ``v1.0`` as OTC's samples show."""
    where = "events.timer():"
    event = _t.fresh(_t.TIMER)
    event.update(
        version=_checks.choice(f"{where} version", version, TIMER_VERSIONS),
        time=_checks.text(f"{where} time", time),
        trigger_name=_checks.text(f"{where} name", name),
        user_event=_checks.text_or_json(f"{where} user_event", user_event),
    )
    return event


def obs(bucket: str = "functionstorage-template", key: str = "job.png", size: int = 777835,
        event_name: str = "ObjectCreated:Post", *, region: str = "cn-north-xx",
        time: str = "2018-01-09T07:50:50.028Z", encode_key: bool = True) -> dict[str, Any]:
    """An OBS notification (``OBS``; E6), one record. The ``key`` arrives URL-encoded as in
    real events (``photos/a b.png`` -> ``photos%2Fa+b.png``); ``encode_key=False`` puts it
    as given. ``bucket`` sets the bucket's name and its ARN (``arn:fss:s3:::<bucket>``)."""
    where = "events.obs():"
    event = _t.fresh(_t.OBS)
    record = event["Records"][0]
    record["eventName"] = _checks.choice(f"{where} event_name", event_name, OBS_EVENT_NAMES)
    record["awsRegion"] = _checks.text(f"{where} region", region)
    record["eventTime"] = _checks.text(f"{where} time", time)
    name = _checks.text(f"{where} bucket", bucket)
    if name != _t.OBS["Records"][0]["s3"]["bucket"]["name"]:  # (the template's ARN is its own)
        record["s3"]["bucket"]["arn"] = f"arn:fss:s3:::{name}"
    record["s3"]["bucket"]["name"] = name
    key = _checks.text(f"{where} key", key)
    encoded = _checks.flag(f"{where} encode_key", encode_key)
    record["s3"]["object"]["key"] = quote_plus(key, safe="") if encoded else key
    record["s3"]["object"]["size"] = _checks.whole(f"{where} size", size)
    return event


def smn(message: str | dict[str, Any] | list[Any] = "this is smn message content",
        subject: str = "this is smn message subject", *,
        topic_urn: str = "urn:smn:cn-north-xx:0162c0f220284698b77a3d264376343a:test3",
        message_attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """An SMN notification (``SMN``; E7), one record; ``message`` is the published text."""
    where = "events.smn():"
    event = _t.fresh(_t.SMN)
    event["record"][0]["smn"].update(
        message=_checks.text_or_json(f"{where} message", message),
        subject=_checks.text(f"{where} subject", subject),
        topic_urn=_checks.text(f"{where} topic_urn", topic_urn),
        message_attributes=(None if message_attributes is None else _checks.plain(
            f"{where} message_attributes",
            dict(_checks.mapping(f"{where} message_attributes", message_attributes)))),
    )
    return event


def dis(records: Sequence[bytes | str | Any] | None = None, *, stream: str = "dis-swtest",
        shard_id: str = "shardId-0000000000", partition_key: str = "shardId_0000000000",
        tag: str = "latest") -> dict[str, Any]:
    """A DIS batch (``DIS``; E8): each record's payload (bytes, a str, a JSON value) arrives
    base64-encoded in ``data``, numbered from ``"0"``. The partition cursor is the
    template's (opaque to a function)."""
    where = "events.dis():"
    event = _t.fresh(_t.DIS)
    event.update(StreamName=_checks.text(f"{where} stream", stream),
                 ShardID=_checks.text(f"{where} shard_id", shard_id),
                 Tag=_checks.text(f"{where} tag", tag))
    partition = _checks.text(f"{where} partition_key", partition_key)
    if records is None:
        payloads = [base64.b64decode(r["data"]) for r in _t.DIS["Message"]["records"]]
    else:
        payloads = [_checks.payload(f"{where} records[{i}]", item)
                    for i, item in enumerate(_checks.items(f"{where} records", records))]
    event["Message"]["records"] = [
        {"partition_key": partition, "data": base64.b64encode(data).decode("ascii"),
         "sequence_number": str(number)} for number, data in enumerate(payloads)]
    return event


def kafka(messages: Sequence[str | Any] | None = None, *, topic: str = "topic-test",
          instance_id: str = "81335d56-b9fe-4679-ba95-7030949cc76b",
          region: str = "cn-north-xx", event_time: int = 1576737962,
          instance_id_in: Literal["event", "record"] = "event") -> dict[str, Any]:
    """A DMS for Kafka batch (``KAFKA``, ``OPENSOURCEKAFKA``; E9): one topic's messages, as
    plain strings. ``instance_id_in``: the console puts ``instance_id`` in the event, Huawei's
    2021 guide in the record (E9b)."""
    where = "events.kafka():"
    event = _queue(_t.KAFKA, where, messages, region, event_time)
    record = event["records"][0]
    record["topic_id"] = _checks.text(f"{where} topic", topic)
    instance = _checks.text(f"{where} instance_id", instance_id)
    if _checks.choice(f"{where} instance_id_in", instance_id_in, ("event", "record")) == "event":
        event["instance_id"] = instance
    else:
        del event["instance_id"]
        event["records"][0] = {"messages": record["messages"], "instance_id": instance,
                               "topic_id": record["topic_id"]}
    return event


def rabbitmq(messages: Sequence[str | Any] | None = None, *, exchange: str = "exchange-test",
             instance_id: str = "81335d56-b9fe-4679-ba95-7030949cc76b",
             region: str = "xx-xxxx-x", event_time: int = 1576737962) -> dict[str, Any]:
    """A DMS for RabbitMQ batch (``RABBITMQ``; E10): one exchange's messages."""
    where = "events.rabbitmq():"
    event = _queue(_t.RABBITMQ, where, messages, region, event_time)
    event["records"][0].update(instance_id=_checks.text(f"{where} instance_id", instance_id),
                               exchange=_checks.text(f"{where} exchange", exchange))
    return event


def rocketmq(messages: Sequence[str | Any] | None = None, *, topic: str = "topic",
             instance_id: str = "4140112c-85fc-40b8-bf7f-1ced2691a0a6",
             region: str = "region", event_time: int = 1714040037) -> dict[str, Any]:
    """A DMS for RocketMQ batch (``ROCKETMQ``; E11, OTC's sample: the console has none)."""
    where = "events.rocketmq():"
    event = _queue(_t.ROCKETMQ, where, messages, region, event_time)
    event["instance_id"] = _checks.text(f"{where} instance_id", instance_id)
    event["records"][0]["topic_id"] = _checks.text(f"{where} topic", topic)
    return event


def _queue(template: dict[str, Any], where: str, messages: Sequence[Any] | None, region: str,
           event_time: int) -> dict[str, Any]:
    """What the three DMS events share: messages (plain strings: [assumption] never base64),
    region, time (epoch seconds)."""
    event = _t.fresh(template)
    event["region"] = _checks.text(f"{where} region", region)
    event["event_time"] = _checks.whole(f"{where} event_time", event_time)
    if messages is not None:
        event["records"][0]["messages"] = _checks.texts(f"{where} messages", messages)
    return event


def lts(logs: Sequence[str | Mapping[str, Any]] | None = None, *,
        owner: str = "6280e170bd934f60a4d851cf5ca05129",
        log_group_id: str = "97a9d284-4448-11e8-8fa4-286ed488ce70",
        log_topic_id: str = "1a9675a7-784d-11e8-9f70-286ed488ce70") -> dict[str, Any]:
    """An LTS batch (``LTS``; E12). ``lts.data`` is base64 of a JSON object whose ``logs`` is
    itself a JSON string of the records: decode, parse, parse again. A log given as a str is
    the template's record with that ``message`` and ``line_no`` its place (from 1); a dict
    is the whole record."""
    where = "events.lts():"
    records = [_t.LTS_LOG] if logs is None else [
        _lts_log(f"{where} logs[{i}]", item, i + 1)
        for i, item in enumerate(_checks.items(f"{where} logs", logs))]
    data = {"logs": _checks.json_text(records),
            "owner": _checks.text(f"{where} owner", owner),
            "log_group_id": _checks.text(f"{where} log_group_id", log_group_id),
            "log_topic_id": _checks.text(f"{where} log_topic_id", log_topic_id)}
    return {"lts": {"data": base64.b64encode(_checks.json_text(data).encode()).decode()}}


def _lts_log(where: str, item: object, line_no: int) -> dict[str, Any]:
    if isinstance(item, str):
        return {**_t.LTS_LOG, "message": item, "line_no": line_no}
    return dict(_checks.plain(where, dict(_checks.mapping(where, item))))


def cts(trace_name: str = "deleteGraph", *, service_type: str = "FunctionGraph",
        resource_type: str = "graph", resource_name: str = "workflow-2be1",
        code: int = 204, user_name: str = "userName", trace_type: str = "ConsoleAction",
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None) -> dict[str, Any]:
    """A CTS trace (``CTS``; E13, the console's shape; newer real traces have epoch-ms times
    and more keys (E13b): save one as JSON and `load` it)."""
    where = "events.cts():"
    event = _t.fresh(_t.CTS)
    trace = event["cts"]
    for key, value in (("trace_name", trace_name), ("service_type", service_type),
                       ("resource_type", resource_type), ("resource_name", resource_name),
                       ("trace_type", trace_type)):
        trace[key] = _checks.text(f"{where} {key}", value)
    trace["user"]["name"] = _checks.text(f"{where} user_name", user_name)
    trace["code"] = _checks.whole(f"{where} code", code)
    for key, given in (("request", request), ("response", response)):
        if given is not None:
            trace[key] = _checks.plain(f"{where} {key}",
                                       dict(_checks.mapping(f"{where} {key}", given)))
    return event


def dds(event_name: str = "insert", *, full_document: dict[str, Any] | str | None = None,
        ns: dict[str, Any] | str | None = None, token: dict[str, Any] | str | None = None,
        region: str = "cn-north-xx", as_objects: bool = False) -> dict[str, Any]:
    """A DDS change (``DDS``; E14): ``token``, ``full_document`` and ``ns`` arrive as JSON
    *strings* (the console); ``as_objects=True`` gives them as objects, as Huawei's 2021
    guide shows (E14b). Each takes a dict, or a str that is its JSON text."""
    where = "events.dds():"
    event = _t.fresh(_t.DDS)
    record = event["records"][0]
    record["event_name"] = _checks.choice(f"{where} event_name", event_name,
                                          DOCUMENT_OPERATIONS)
    record["region"] = _checks.text(f"{where} region", region)
    objects = _checks.flag(f"{where} as_objects", as_objects)
    for key, given in (("token", token), ("full_document", full_document), ("ns", ns)):
        value = record["dds"][key] if given is None else _document(f"{where} {key}", given)
        record["dds"][key] = json.loads(value) if objects else value
    return event


def gaussmongo(event_name: str = "insert", *, full_document: dict[str, Any] | str | None = None,
               ns: dict[str, Any] | str | None = None, token: dict[str, Any] | str | None = None,
               region: str = "cn-north-xx") -> dict[str, Any]:
    """A GeminiDB (GaussDB) Mongo change (``GAUSSMONGO``; E15): as DDS's strings, plus
    ``event_name`` itself JSON (``"\\"insert\\""``) and ``vernier``, the change's token."""
    where = "events.gaussmongo():"
    event = _t.fresh(_t.GAUSSMONGO)
    record = event["records"][0]
    name = _checks.choice(f"{where} event_name", event_name, DOCUMENT_OPERATIONS)
    record["event_name"] = json.dumps(name)
    record["region"] = _checks.text(f"{where} region", region)
    for key, given in (("token", token), ("full_document", full_document), ("ns", ns)):
        if given is not None:
            record["gauss_mongo"][key] = _document(f"{where} {key}", given)
    event["vernier"] = record["gauss_mongo"]["token"]
    return event


def _document(where: str, value: object) -> str:
    """A document field's JSON text: a dict encoded, a str checked to be JSON."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {_checks.shown(value)} is not JSON text ({exc})") from None
        return value
    return _checks.json_text(_checks.plain(where, dict(_checks.mapping(where, value))))


def eventgrid(data: Any = None, *, source: str = "eventSourceName",
              source_type: Literal["RABBITMQ", "ROCKETMQ"] = "RABBITMQ",
              subject: str | None = None, event_type: str | None = None,
              id: str = "016d5bd3-6231-4e9e-86ef-e451a070d598",  # (CloudEvents' own name)
              time: str = "2023-04-07T11:51:10Z") -> dict[str, Any]:
    """An EventGrid CloudEvent 1.0 (``EVENTGRID``; E16, the console's ``EGRABBITMQ``, or
    ``EGROCKETMQ`` with ``source_type="ROCKETMQ"``). ``data`` (any JSON value) defaults to
    the template's; ``subject`` and ``type`` follow ``source_type`` and ``source`` unless
    given (``event_type`` sets ``type``)."""
    where = "events.eventgrid():"
    event = _t.fresh(_t.EVENTGRID)
    kind = _checks.choice(f"{where} source_type", source_type, EVENTGRID_SOURCES)
    name = _checks.text(f"{where} source", source)
    default_type = f"{kind}:CloudTrace:{kind.capitalize()}Call"
    event.update(
        source=name, id=_checks.text(f"{where} id", id),
        time=_checks.text(f"{where} time", time),
        subject=_checks.text(f"{where} subject", subject if subject is not None else
                             f"{kind}:region:domainId/projectId:{kind}:{name}"),
        type=_checks.text(f"{where} event_type",
                          event_type if event_type is not None else default_type),
    )
    if data is not None:
        event["data"] = _checks.plain(f"{where} data", data)
    return event


def iotedge(properties: Mapping[str, Any] | None = None, *, service_id: str = "sensor",
            device_id: str = "test_serverless_device_1",
            product_id: str = "647598a0e6f1495ca2154b23",
            event_time: str = "2021-02-12T12:12:12.000Z") -> dict[str, Any]:
    """An IoT Edge device report (the console's ``IOTEDGE``; E17), one service's properties.
    (IoTDA's ``IOTDA`` trigger has no published event.)"""
    where = "events.iotedge():"
    event = _t.fresh(_t.IOTEDGE)
    service = event["services"][0]
    if properties is not None:
        service["properties"] = _checks.plain(
            f"{where} properties", dict(_checks.mapping(f"{where} properties", properties)))
    service["service_id"] = _checks.text(f"{where} service_id", service_id)
    service["event_time"] = _checks.text(f"{where} event_time", event_time)
    event["device_id"] = _checks.text(f"{where} device_id", device_id)
    event["product_id"] = _checks.text(f"{where} product_id", product_id)
    return event


def load(source: str | os.PathLike[str]) -> dict[str, Any]:
    """A saved test event: a ``.json`` file holding the event, or a Terraform file's
    ``huaweicloud_fgs_function_event`` (or OTC ``opentelekomcloud_fgs_event_v2``) resource,
    named by its label (``"events.tf#order_created"``; the only one needs no name), whose
    ``content`` is base64 of the event's JSON: a literal, ``base64encode(...)`` of a variable,
    a local or ``jsonencode({...})``, or ``filebase64("file.json")``."""
    from ._events.loading import load as load_event  # (python-hcl2 only for those who load)

    return load_event(source)
