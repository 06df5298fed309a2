import csv, json, os, re, statistics, sys
Q = 'EXP/q'
for name in sys.argv[1:] or sorted(os.listdir(Q)):
    d = os.path.join(Q, name)
    m = os.path.join(d, 'run', 'metrics.csv')
    if not os.path.exists(m): continue
    rows = list(csv.DictReader(open(m)))
    vals = [(int(r['step']), float(r['val/acc'])) for r in rows if r.get('val/acc')]
    last_val = vals[-1] if vals else None
    best = max(vals, key=lambda x: (x[1], -x[0])) if vals else None
    gate = None
    for l in open(os.path.join(d, 'run', 'gate.jsonl')) if os.path.exists(os.path.join(d, 'run', 'gate.jsonl')) else []:
        g = json.loads(l)
        if g.get('open') and gate is None: gate = g['step']
    # last logged interval pseudo figures (mean of last 10 log rows)
    tail = [r for r in rows if r.get('train/pseudo_mask_rate')][-10:]
    mr = statistics.mean(float(r['train/pseudo_mask_rate']) for r in tail) if tail else None
    pr = [float(r['train/pseudo_precision']) for r in tail if r.get('train/pseudo_precision')]
    pr = statistics.mean(pr) if pr else None
    st = [float(r['time/step_ms']) for r in rows if r.get('time/step_ms')]
    closed = [float(r['time/step_ms']) for r in rows if r.get('time/step_ms') and r.get('gate/open') == '0']
    opened = [float(r['time/step_ms']) for r in rows if r.get('time/step_ms') and r.get('gate/open') == '1']
    med = lambda x: round(statistics.median(x), 1) if x else None
    h = None
    hp = os.path.join(d, 'hidden.json')
    if os.path.exists(hp) and os.path.getsize(hp) > 0:
        hj = json.loads(open(hp).read().strip().split('\n')[-1]); h = round(100 * hj['hidden_accuracy'], 2)
    wall = None
    log = open(os.path.join(d, 'train.log')).read()
    mm = re.search(r'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)', log)
    if mm:
        p = [float(x) for x in mm.group(1).split(':')]; wall = round((p[-1] + 60 * p[-2] + (3600 * p[-3] if len(p) > 2 else 0)) / 60, 1)
    print(json.dumps(dict(name=name, step=rows[-1]['step'], val_last=last_val, val_best=best, gate=gate, hidden=h,
                          mask=mr and round(mr, 3), prec=pr and round(pr, 3), step_ms_closed=med(closed), step_ms_open=med(opened), wall_min=wall)))
