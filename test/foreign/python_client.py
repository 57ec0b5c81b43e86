#!/usr/bin/env python3
"""A client in another language, built from juice's .proto files alone: the descriptor set comes from
`buf build proto -o juice.binpb --path proto/juice`, message classes are made from it at run time, and
the calls go through plain grpcio. Calls Generate (greedy) on a generator and Score on a reward-model
and prints the answers as JSON for the end-to-end test to compare with juice's own client.

Usage: python_client.py DESCRIPTOR_SET GENERATOR_ADDR REWARD_MODEL_ADDR
Needs Debian's python3-grpcio and python3-protobuf."""
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

descriptor_path, generator_addr, reward_addr = sys.argv[1:4]
fds = descriptor_pb2.FileDescriptorSet()
with open(descriptor_path, "rb") as f:
    fds.ParseFromString(f.read())
pool = descriptor_pool.DescriptorPool()
for file in fds.file:
    pool.Add(file)
factory = message_factory.MessageFactory(pool)


def cls(name):
    return factory.GetPrototype(pool.FindMessageTypeByName(name))


def unary(channel, method, request_type, response_type):
    return channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(), response_deserializer=cls(response_type).FromString)


Prompt, SamplingParams = cls("juice.v1.Prompt"), cls("juice.v1.SamplingParams")
with grpc.insecure_channel(generator_addr) as ch:
    generate = unary(ch, "/juice.v1.GeneratorService/Generate", "juice.v1.GenerateRequest", "juice.v1.GenerateResponse")
    req = cls("juice.v1.GenerateRequest")(prompts=[Prompt(text="What is 2+3?")], sampling=SamplingParams(temperature=0, max_new_tokens=8, ignore_eos=True))
    res = generate(req, timeout=60)
    sample = res.results[0].samples[0]
    out = {"generate": {"token_ids": list(sample.token_ids), "text": sample.text, "weight_version": res.weight_version.number}}
with grpc.insecure_channel(reward_addr) as ch:
    score = unary(ch, "/juice.v1.RewardModelService/Score", "juice.v1.ScoreRequest", "juice.v1.ScoreResponse")
    Completion = cls("juice.v1.Completion")
    req = cls("juice.v1.ScoreRequest")(items=[cls("juice.v1.ScoreItem")(prompt=Prompt(text="What is 2+3?"), response=Completion(text=" 5"))])
    res = score(req, timeout=60)
    out["score"] = {"reward": res.results[0].reward}
    # Bad input from a foreign client gets the same actionable status.
    try:
        score(cls("juice.v1.ScoreRequest")(), timeout=10)
        out["empty_score"] = "accepted"
    except grpc.RpcError as e:
        out["empty_score"] = {"code": e.code().name, "details": e.details()}
print(json.dumps(out))
