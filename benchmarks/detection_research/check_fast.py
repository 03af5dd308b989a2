import sys, time; sys.path.insert(0, "/work/exp10")
import numpy as np, folds
import supplywatch.classifiers as classifiers
dev, ex, fz = folds.load_dev(), classifiers.examples(), folds.make_featurize()
t=time.time(); a = folds.time_split(dev, ex, fz, folds.BaselineDesign()); print("slow", time.time()-t)
t=time.time(); b = folds.time_split(dev, ex, fz, folds.get_design("fastbase")); print("fast", time.time()-t)
print("thr", a[0].threshold, b[0].threshold, "max |diff|", max(abs(x.score-y.score) for x,y in zip(a,b)))
