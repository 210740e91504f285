#!/usr/bin/env python3
"""The flags experiment (an experiment, not a test): do annotators' "wrong" flags fix what they flag?

    bench/flags/experiment.py BIN DATA CHECKPOINT WORKDIR

Ranks every dev query of DATA with CHECKPOINT, flags the wrong matches in the top 10 of the 6
worst queries (at most 50 flags, `vitrine flags add` into WORKDIR/flags.sqlite), then runs 60
more fine-tuning steps from CHECKPOINT twice (`--flags` the store, and `--no-flags`) and prints
the flagged queries' mean AP@10, the flagged matches still in their top 10, and the dev split's
official mAP@10 before and after. README, "Retrieval and training", has the figures.
"""
import json, subprocess, os, sys
B, D, M, WORK = (os.path.abspath(a) for a in sys.argv[1:5])
os.makedirs(WORK, exist_ok=True)
STORE = os.path.join(WORK, "flags.sqlite")
def q(model, sid):
    out=subprocess.run([B,"query","--sample",sid,"--data",D,"--model",model,"--top","10","--json"],capture_output=True,text=True,env=dict(os.environ,VITRINE_FLAGS=STORE)).stdout
    return json.loads(out)
dev=[l.split('#')[0] for l in open(D+"/product1m_dev_ossurl_v2.txt",encoding="utf-8") if l.strip()]
res={sid:q(M,sid) for sid in dev}
worst=sorted(dev,key=lambda s:res[s]["averagePrecision"])[:6]
flags=[(s,m["id"]) for s in worst for m in res[s]["matches"] if not m["relevant"]][:50]
print("worst 6 mean AP@10 before", sum(res[s]["averagePrecision"] for s in worst)/6, "flags", len(flags))
import hashlib
sha=hashlib.sha256(open(M,"rb").read()).hexdigest()
if os.path.exists(STORE): os.remove(STORE)
key=os.path.basename(D)+":"+D  # Dataset.identityKey, as the explorer writes flags
for s,m in flags:
    subprocess.run([B,"flags","add","--store",STORE,"--dataset",key,"--query",s,"--match",m,"--model",sha,"--verdict","wrong","--annotator","exp"],check=True,capture_output=True)
json.dump({"worst":worst,"flags":flags},open(os.path.join(WORK,"flags.json"),"w"))
for name,extra in [("flags",["--flags",STORE]),("noflags",["--no-flags"])]:
    out=os.path.join(WORK,"run-"+name)
    subprocess.run(["rm","-rf",out])
    r=subprocess.run([B,"train","--data",D,"--preset","sample","--init-from",M,"--steps","60","--out",out,"--json"]+extra,capture_output=True,text=True)
    fin=[l for l in r.stdout.splitlines() if '"finished"' in l]
    print(name, fin[-1][:200] if fin else r.stderr[-500:])
    model=out+"/latest.safetensors"
    after={s:q(model,s) for s in worst}
    left=sum(1 for s,m in flags if any(x["id"]==m for x in after[s]["matches"]))
    print(name, "worst 6 mean AP@10 after", sum(after[s]["averagePrecision"] for s in worst)/6, "flagged left in top 10", left)
    ev=subprocess.run([B,"eval","--data",D,"--split","dev","--model",model,"--json","--quiet"],capture_output=True,text=True).stdout
    print(name, "dev mAP@10 (all 150)", json.loads(ev)["top10"]["mAP"])
ev=subprocess.run([B,"eval","--data",D,"--split","dev","--model",M,"--json","--quiet"],capture_output=True,text=True).stdout
print("before: dev mAP@10 (all 150)", json.loads(ev)["top10"]["mAP"])
