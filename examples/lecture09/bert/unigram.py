#!/usr/bin/env python3
"""unigram.py — the masked-token baseline of the mini-BERT: a model that
ignores the context and predicts every masked character from the corpus's
character frequencies.  Sentences as mlm(...) makes them (documents split at
lines holding a lone '%', whitespace runs collapsed to one space, a sentence
ending after '.', '!' or '?' and closing quotes or brackets before a space).
Prints, in nats per token: the entropy of the pretraining sentences'
characters, and the cross-entropy of the held-out file's characters under
those frequencies (a held-out character the corpus lacks counts as [UNK],
given the probability of one occurrence)."""
import math
import re
import sys
from collections import Counter

SENTENCE = re.compile(r'.*?(?:[.!?][.!?"\')\]]*(?= )|$)')


def sentences(path):
    text = open(path, encoding='utf-8').read()
    for doc in re.split(r'^%[ \t\r\v\f]*\n', text, flags=re.M):
        doc = ' '.join(doc.split())
        for s in SENTENCE.findall(doc):
            s = s.strip()
            if s:
                yield s


def main():
    train, held = sys.argv[1], sys.argv[2]
    counts = Counter(c for s in sentences(train) for c in s)
    n = sum(counts.values())
    h = -sum(k / n * math.log(k / n) for k in counts.values())
    test = Counter(c for s in sentences(held) for c in s)
    m = sum(test.values())
    ce = -sum(k / m * math.log(counts.get(c, 1) / n) for c, k in test.items())
    print(f"train: {len(counts)} characters, {n} tokens, unigram entropy {h:.4f} nats")
    print(f"held-out: {m} tokens, cross-entropy under the train unigram {ce:.4f} nats")


if __name__ == '__main__':
    main()
