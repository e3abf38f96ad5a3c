"""The console's test-event templates, verbatim (trigger-events reference, section 2).
[test process]

Each factory starts from a deep copy of its template and sets only the fields its keywords
name, so that a factory called bare gives the console's template and every field a test does
not vary keeps the platform's shape. Long strings are split over lines, never changed.
Sources: E1 (APIG), E5 (TIMER, v2.0), E6 (OBS), E7 (SMN), E8 (DIS), E9 (KAFKA), E10 (RABBITMQ),
E11 (ROCKETMQ: OTC's sample, the console has none), E12 (LTS, kept decoded: the factory
encodes it), E13 (CTS), E14 (DDS), E15 (GAUSSMONGO), E16 (EGRABBITMQ), E17 (IOTEDGE).
"""

from __future__ import annotations

import json
from typing import Any, Final

APIG: Final[dict[str, Any]] = {
    "body": "",
    "requestContext": {"apiId": "bc1dcffd-aa35-474d-897c-d53425a4c08e",
                       "requestId": "11cdcdcf33949dc6d722640a13091c77",
                       "stage": "RELEASE"},
    "queryStringParameters": {"responseType": "html"},
    "httpMethod": "GET",
    "pathParameters": {},
    "headers": {
        "accept-language": "zh-CN,zh;q=0.8,zh-TW;q=0.7,zh-HK;q=0.5,en-US;q=0.3,en;q=0.2",
        "accept-encoding": "gzip, deflate, br",
        "x-forwarded-port": "443",
        "x-forwarded-for": "103.218.216.98",
        "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "upgrade-insecure-requests": "1",
        "host": "50eedf92-c9ad-4ac0-827e-d7c11415d4f1.apigw.cn-north-1.huaweicloud.com",
        "x-forwarded-proto": "https",
        "pragma": "no-cache",
        "cache-control": "no-cache",
        "x-real-ip": "103.218.216.98",
        "user-agent": "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:57.0) Gecko/20100101 "
                      "Firefox/57.0",
    },
    "path": "/apig-event-template",
    "isBase64Encoded": True,
}

TIMER: Final[dict[str, Any]] = {
    "version": "v2.0",
    "time": "2023-06-01T08:30:00+08:00",
    "trigger_type": "TIMER",
    "trigger_name": "Timer_001",
    "user_event": "User Event",
}

OBS: Final[dict[str, Any]] = {"Records": [{
    "eventVersion": "2.0",
    "eventTime": "2018-01-09T07:50:50.028Z",
    "requestParameters": {"sourceIPAddress": "103.218.216.125"},
    "s3": {
        "configurationId": "UK1DGFPYUKUZFHNQ00000160CC0B471D101ED30CE24DF4DB",
        "object": {"eTag": "9d377b10ce778c4938b3c7e2c63a229a",
                   "sequencer": "00000000160D9E681484D6B4C0000000",
                   "key": "job.png",
                   "size": 777835},
        "bucket": {"arn": "arn:fss:s3:::syj-input2",
                   "name": "functionstorage-template",
                   "ownerIdentity": {"PrincipalId": "0ed1b73473f24134a478962e631651eb"}},
    },
    "awsRegion": "cn-north-xx",
    "eventName": "ObjectCreated:Post",
    "userIdentity": {"principalId": "9bf43789b1ff4b679040f35cc4f0dc05"},
}]}

SMN: Final[dict[str, Any]] = {
    "record": [{
        "event_version": "1.0",
        "smn": {"topic_urn": "urn:smn:cn-north-xx:0162c0f220284698b77a3d264376343a:test3",
                "timestamp": "2018-01-09T07:11:40Z",
                "message_attributes": None,
                "message": "this is smn message content",
                "type": "notification",
                "message_id": "a51671f77d4a479cacb09e2cd591a983",
                "subject": "this is smn message subject"},
        "event_subscription_urn": "urn:fss:cn-north-xx:0162c0f220284698b77a3d264376343a:"
                                  "function:default:read-smn-message:latest",
        "event_source": "smn",
    }],
    "functionname": "test",
    "requestId": "7c307f6a-cf68-4e65-8be0-4c77405a1b2c",
    "timestamp": "Tue Jan 09 2018 15:11:40 GMT+0800 (CST)",
}

DIS: Final[dict[str, Any]] = {
    "ShardID": "shardId-0000000000",
    "Message": {
        "next_partition_cursor": (
            "eyJnZXRJdGVyYXRvclBhcmFtIjp7InN0cmVhbS1uYW1lIjoiZGlzLXN3dGVzdCIsInBhcnRpdGlvbi1p"
            "ZCI6InNoYXJkSWQtMDAwMDAwMDAwMCIsImN1cnNvci10eXBlIjoiVFJJTV9IT1JJWk9OIiwic3RhcnRp"
            "bmctc2VxdWVuY2UtbnVtYmVyIjoiNCJ9LCJnZW5lcmF0ZVRpbWVzdGFtcCI6MTUwOTYwNjM5MjE5MX0"),
        "records": [
            {"partition_key": "shardId_0000000000", "data": "d2VsY29tZQ==",
             "sequence_number": "0"},
            {"partition_key": "shardId_0000000000", "data": "dXNpbmc=", "sequence_number": "1"},
            {"partition_key": "shardId_0000000000", "data": "RnVuY3Rpb25TdGFnZQ==",
             "sequence_number": "2"},
            {"partition_key": "shardId_0000000000", "data": "c2VydmljZQ==",
             "sequence_number": "3"},
        ],
        "millis_behind_latest": "",
    },
    "Tag": "latest",
    "StreamName": "dis-swtest",
}

KAFKA: Final[dict[str, Any]] = {
    "event_version": "v1.0",
    "event_time": 1576737962,
    "trigger_type": "KAFKA",
    "region": "cn-north-xx",
    "instance_id": "81335d56-b9fe-4679-ba95-7030949cc76b",
    "records": [{"messages": [f"kafka message{n}" for n in range(1, 6)],
                 "topic_id": "topic-test"}],
}

RABBITMQ: Final[dict[str, Any]] = {
    "event_version": "v1.0",
    "event_time": 1576737962,
    "trigger_type": "RABBITMQ",
    "region": "xx-xxxx-x",
    "records": [{"messages": [f"rabbitmq message{n}" for n in range(1, 6)],
                 "instance_id": "81335d56-b9fe-4679-ba95-7030949cc76b",
                 "exchange": "exchange-test"}],
}

ROCKETMQ: Final[dict[str, Any]] = {
    "event_version": "v1.0",
    "event_time": 1714040037,
    "trigger_type": "ROCKETMQ",
    "region": "region",
    "instance_id": "4140112c-85fc-40b8-bf7f-1ced2691a0a6",
    "records": [{"messages": [f"rocketmq message{n}" for n in range(1, 6)],
                 "topic_id": "topic"}],
}

LTS_LOG: Final[dict[str, Any]] = {
    "message": "2018-08-08/08:08:08 [WRN] [test.go:08]This is a test message.",
    "time": 1530009653059,
    "host_name": "ecs-test",
    "ip": "192.168.1.1",
    "path": "var/log/test.log",
    "log_uid": "663d6930-792d-11e8-8b08-286ed488ce70",
    "line_no": 1,
}
"""The one log record of the LTS template (inside ``lts.data``, decoded twice)."""
LTS_DATA: Final[dict[str, Any]] = {
    "logs": [LTS_LOG],  # (a JSON string of this list, in the event)
    "owner": "6280e170bd934f60a4d851cf5ca05129",
    "log_group_id": "97a9d284-4448-11e8-8fa4-286ed488ce70",
    "log_topic_id": "1a9675a7-784d-11e8-9f70-286ed488ce70",
}

CTS: Final[dict[str, Any]] = {"cts": {
    "time": "2018/06/26 08:54:07 GMT+08:00",
    "user": {"name": "userName",
             "id": "5b726c4fbfd84821ba866bafaaf56aax",
             "domain": {"name": "domainName", "id": "b2b3853af40448fcb9e40dxj89505ba"}},
    "request": {},
    "response": {},
    "code": 204,
    "service_type": "FunctionGraph",
    "resource_type": "graph",
    "resource_name": "workflow-2be1",
    "resource_id": "urn:fgs:cn-north-xxx:2d1d891d93054bbaa69b9e866c0971ac:graph:workflow-2be1",
    "trace_name": "deleteGraph",
    "trace_type": "ConsoleAction",
    "record_time": "2018/06/26 08:54:07 GMT+08:00",
    "trace_id": "69be64a7-0233-11e8-82e4-e5d37911193e",
    "trace_status": "normal",
}}

DDS: Final[dict[str, Any]] = {"records": [{
    "event_source": "dds",
    "event_name": "insert",
    "region": "cn-north-xx",
    "event_version": "1.0",
    "dds": {
        "size_bytes": "100",
        "token": '{"_data": "825D8C2F4D0000001529295A100474039A3412A64BA89041DC952357FB444664'
                 '5F696400645D8C2F8E5BECCB6CF5370D6A0004"}',
        "full_document": '{"_id": {"$oid": "5d8c2f8e5beccb6cf5370d6a"},"name": "dds",'
                         '"age": {"$numberDouble": "52.0"}}',
        "ns": '{"db": "functiongraph","coll": "person"}',
    },
    "event_source_id": "e6065860-f7b8-4cca-80bd-24ef2a3bb748",
}]}

_GAUSS_TOKEN = ('{"_data": "825F61DE940000000129295A1004A2D9AE61206C43A5AF47CAF7C5C00C5946645F'
                '696400645F61DE944778DB5FCDED3F870004"}')
GAUSSMONGO: Final[dict[str, Any]] = {
    "records": [{
        "event_name": '"insert"',
        "event_version": "1.0",
        "event_source": "gauss_mongo",
        "region": "cn-north-xx",
        "gauss_mongo": {
            "full_document": '{"_id": {"$oid":"5f61de944778db5fcded3f87"},'
                             '"zhangsan": "zhangsan"}',
            "ns": '{"db": "zhangsan","coll": "zhangsan"}',
            "size_bytes": "100",
            "token": _GAUSS_TOKEN,
        },
        "event_source_id": "51153d19-2b7d-402c-9a79-757163258a36",
    }],
    "vernier": _GAUSS_TOKEN,
}

EVENTGRID: Final[dict[str, Any]] = {
    "datacontenttype": "application/json",
    "data": {"context": "yyyyy"},
    "subject": "RABBITMQ:region:domainId/projectId:RABBITMQ:eventSourceName",
    "specversion": "1.0",
    "id": "016d5bd3-6231-4e9e-86ef-e451a070d598",
    "source": "eventSourceName",
    "time": "2023-04-07T11:51:10Z",
    "type": "RABBITMQ:CloudTrace:RabbitmqCall",
}

IOTEDGE: Final[dict[str, Any]] = {
    "services": [{"properties": {"temp": 2},
                  "service_id": "sensor",
                  "event_time": "2021-02-12T12:12:12.000Z"}],
    "device_id": "test_serverless_device_1",
    "product_id": "647598a0e6f1495ca2154b23",
}


def fresh(template: dict[str, Any]) -> dict[str, Any]:
    """A deep copy: what a factory hands out is the caller's to change. (The templates are
    JSON data: their JSON text, kept per template, parses ten times faster than
    ``copy.deepcopy`` walks them: an APIG event is built per ``http()`` call.)"""
    kept = _TEXTS.get(id(template))
    if kept is None or kept[0] is not template:  # (kept with it: its id is never reused)
        kept = _TEXTS[id(template)] = (template, json.dumps(template))
    copied: dict[str, Any] = json.loads(kept[1])
    return copied


_TEXTS: dict[int, tuple[dict[str, Any], str]] = {}
