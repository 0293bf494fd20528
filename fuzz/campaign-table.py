#!/usr/bin/env python3
"""Prints fuzz/campaign.tsv as the Markdown table of docs/fuzzing.md."""
import pathlib
import sys

tsv = pathlib.Path(__file__).with_name("campaign.tsv")
print("| ended (UTC) | target | commit | wall | CPU | executions | exec/CPU s | cov | ft | corpus | artifacts |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for line in tsv.read_text().splitlines():
    date, target, commit, wall, cpu, execs, cov, ft, corpus, artifacts = line.split("\t")
    rate = f"{int(execs) / max(int(cpu), 1):,.0f}" if execs.isdigit() and cpu.isdigit() else "?"
    execs = f"{int(execs):,}" if execs.isdigit() else execs
    print(f"| {date[:16].replace('T', ' ')} | `{target}` | {commit} | {int(wall) // 60} min | {int(cpu)} s "
          f"| {execs} | {rate} | {cov} | {ft} | {corpus} | {artifacts} |")
