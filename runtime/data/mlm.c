/*
 * mlm.c — BERT's pretraining data from a text file of documents (the
 * mlm(...) data source): documents are separated by lines holding a lone
 * "%" (Debian's fortune files; a file without one is one document), each
 * document is cut into sentences, and every sample is a sentence pair
 * `[CLS] a [SEP] b [SEP]` padded to len (or one sentence `[CLS] a [SEP]`),
 * with segment ids, a padding mask, masked-LM inputs, targets and weights,
 * and the next-sentence label.
 *
 * Sentences: a document's whitespace runs become one space; a sentence ends
 * after a run of '.', '!' or '?' (and any closing quotes or brackets) that
 * is followed by a space or the document's end.  Tokens are the sentence's
 * code points, or with words its whitespace-separated words, as ids of a
 * vocabulary built from the train file's sentences, shifted past the
 * special tokens [PAD] [CLS] [SEP] [MASK] [UNK] (ids 0-4).  A token the
 * vocabulary lacks (a test file) is [UNK].
 *
 * Pairs: for every sentence a of a document but its last, b is the next
 * sentence with probability 1/2 (next = 1), else a random sentence of
 * another random document (next = 0).  A pair longer than len - 3 tokens
 * loses tokens from the end of its longer sentence until it fits.
 * Masking: of a sample's sentence tokens, round(mask · n) (at least one
 * when mask > 0) distinct positions are chosen; each becomes [MASK] with
 * probability 0.8, a random vocabulary token with 0.1, or stays; weight is
 * 1 there and 0 elsewhere, and target holds every position's original id.
 * `copies` passes over the documents draw new partners and new masks.
 *
 * Invariants:
 *  - the samples depend only on the file, the configuration and the seed
 *    (one generator, drawn in sample order);
 *  - every error names the file; nothing reads out of bounds or aborts.
 */
#include "internal.h"
#include <math.h>
#include <string.h>

/* One sentence: token ids (vocabulary ids + MLM_SPECIALS) in the pool. */
typedef struct Sentence { int64_t at, n; } Sentence;
typedef struct Document { int64_t first, n; } Document; /* sentences [first, first + n) */

typedef struct Corpus {
  char *text;     /* the sentences, each ending in '\n' */
  size_t bytes;
  Sentence *sent; /* in text: byte offsets, then (after encoding) in ids */
  int64_t nsent;
  Document *doc;
  int64_t ndoc;
  int32_t *ids;   /* every sentence's tokens, back to back */
} Corpus;

static void corpus_free(Corpus *c) {
  nnrt_free(c->text);
  nnrt_free(c->sent);
  nnrt_free(c->doc);
  nnrt_free(c->ids);
  memset(c, 0, sizeof *c);
}

static bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool ends_sentence(char c) { return c == '.' || c == '!' || c == '?'; }
static bool closes(char c) { return c == '"' || c == '\'' || c == ')' || c == ']'; }

/* A line [s, e) that separates documents: "%" alone (trailing spaces allowed). */
static bool separator(const char *s, const char *e) {
  while (e > s && is_space((unsigned char)e[-1]))
    e--;
  return e - s == 1 && s[0] == '%';
}

/* Append document doc[0..n) (whitespace collapsed) to c as sentences. */
static void add_document(Corpus *c, const char *doc, size_t n) {
  int64_t first = c->nsent;
  size_t start = c->bytes;
  bool space = true, term = false; /* space: drop a leading space; term: after . ! or ? */
  for (size_t k = 0; k < n; k++) {
    unsigned char ch = (unsigned char)doc[k];
    if (is_space(ch)) {
      if (!space && c->bytes > start)
        c->text[c->bytes++] = ' ';
      space = true;
      continue;
    }
    space = false;
    c->text[c->bytes++] = (char)ch;
    if (ends_sentence((char)ch))
      term = true;
    else if (!closes((char)ch))
      term = false;
    bool end = k + 1 == n || (term && is_space((unsigned char)doc[k + 1]));
    if (end) {
      while (c->bytes > start && c->text[c->bytes - 1] == ' ')
        c->bytes--;
      if (c->bytes > start) {
        c->sent[c->nsent++] = (Sentence){(int64_t)start, (int64_t)(c->bytes - start)};
        c->text[c->bytes++] = '\n';
      }
      start = c->bytes;
      space = true;
      term = false;
    }
  }
  if (c->nsent > first)
    c->doc[c->ndoc++] = (Document){first, c->nsent - first};
}

/* The documents and sentences of buf[0..len) (checked text). */
static int split_corpus(const char *buf, size_t len, const char *name, Corpus *c, char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  /* a sentence ends at a byte of the file at the latest: at most len + 1 of each */
  c->text = nnrt_alloc(len + 2, "mlm sentences");
  c->sent = nnrt_alloc((len + 1) * sizeof *c->sent, "mlm sentences");
  c->doc = nnrt_alloc((len + 1) * sizeof *c->doc, "mlm documents");
  if (!c->text || !c->sent || !c->doc) {
    corpus_free(c);
    return nnrt_fail(err, errlen, "%s: out of memory splitting %zu bytes into sentences", name, len);
  }
  size_t doc = 0;
  for (size_t at = 0; at < len;) {
    const char *nl = memchr(buf + at, '\n', len - at);
    size_t end = nl ? (size_t)(nl - buf) + 1 : len;
    if (separator(buf + at, buf + end)) {
      add_document(c, buf + doc, at - doc);
      doc = end;
    }
    at = end;
  }
  add_document(c, buf + doc, len - doc);
  c->text[c->bytes] = 0;
  if (c->nsent == 0)
    return corpus_free(c), nnrt_fail(err, errlen, "%s: no sentence in the file", name);
  return 0;
}

/* Token ids of every sentence, unknown tokens as MLM_UNK; c->sent becomes
 * offsets and counts in c->ids. */
static int encode(Corpus *c, const NnrtVocab *v, const char *name, char *err, size_t errlen) {
  c->ids = nnrt_alloc(c->bytes * sizeof *c->ids + 1, "mlm token ids");
  if (!c->ids)
    return nnrt_fail(err, errlen, "%s: out of memory for %zu token ids", name, c->bytes);
  int64_t n = 0;
  for (int64_t i = 0; i < c->nsent; i++) {
    const char *s = c->text + c->sent[i].at;
    size_t len = (size_t)c->sent[i].n;
    int64_t first = n;
    for (size_t at = 0; at < len;) {
      size_t start = at;
      if (v->words) {
        while (at < len && s[at] != ' ')
          at++;
      } else {
        at++;
        while (at < len && ((unsigned char)s[at] & 0xc0) == 0x80)
          at++;
      }
      int64_t id = nnrt_vocab_find(v, s + start, at - start);
      c->ids[n++] = id < 0 ? MLM_UNK : (int32_t)(id + MLM_SPECIALS);
      if (v->words && at < len)
        at++; /* the one space between words */
    }
    c->sent[i] = (Sentence){first, n - first};
  }
  return 0;
}

int nnrt_mlm_vocab(const char *buf, size_t len, const char *name, bool words, int64_t cap, NnrtVocab **out,
                   char *err, size_t errlen) {
  *out = NULL;
  if (cap <= MLM_SPECIALS)
    return nnrt_fail(err, errlen, "%s: vocab = %lld leaves no room beside the %d special tokens", name,
                     (long long)cap, MLM_SPECIALS);
  Corpus c;
  if (split_corpus(buf, len, name, &c, err, errlen) != 0)
    return -1;
  /* the sentences' text without the newlines between them */
  for (size_t k = 0; k < c.bytes; k++)
    if (c.text[k] == '\n')
      c.text[k] = ' ';
  char inner[512] = "";
  int rc = nnrt_vocab_build(c.text, c.bytes, name, words, cap - MLM_SPECIALS, out, inner, sizeof inner);
  corpus_free(&c);
  if (rc != 0)
    return nnrt_fail(err, errlen, "%s (mlm counts its %d special tokens in vocab: %lld)", inner, MLM_SPECIALS,
                     (long long)cap);
  return 0;
}

void nnrt_mlm_free(NnrtMlmSet *s) {
  nnrt_free(s->ids);
  nnrt_free(s->segments);
  nnrt_free(s->target);
  nnrt_free(s->next);
  nnrt_free(s->keep);
  nnrt_free(s->weight);
  memset(s, 0, sizeof *s);
}

/* Draw in [0, n). */
static int64_t draw(NnrtRng *r, int64_t n) {
  int64_t k = (int64_t)(nnrt_rng_uniform(r) * (double)n);
  return k < n ? k : n - 1;
}

/* Sample k of s: sentences a and b (b NULL: one sentence), truncated to fit,
 * then masked; cand holds len positions. */
static void make_sample(NnrtMlmSet *s, int64_t k, const Corpus *c, const Sentence *a, const Sentence *b, int next,
                        const NnrtMlmConfig *cfg, int64_t nvocab, NnrtRng *r, int64_t *cand) {
  int64_t T = cfg->len, la = a->n, lb = b ? b->n : 0, room = T - (b ? 3 : 2);
  while (la + lb > room) {
    if (la > lb)
      la--;
    else
      lb--;
  }
  int32_t *ids = s->ids + k * T, *seg = s->segments + k * T, *tgt = s->target + k * T;
  float *keep = s->keep + k * T, *w = s->weight + k * T;
  int64_t nc = 0, at = 0;
  ids[at] = MLM_CLS, seg[at++] = 0;
  for (int64_t i = 0; i < la; i++)
    cand[nc++] = at, ids[at] = c->ids[a->at + i], seg[at++] = 0;
  ids[at] = MLM_SEP, seg[at++] = 0;
  if (b) {
    for (int64_t i = 0; i < lb; i++)
      cand[nc++] = at, ids[at] = c->ids[b->at + i], seg[at++] = 1;
    ids[at] = MLM_SEP, seg[at++] = 1;
  }
  for (int64_t i = 0; i < T; i++) {
    if (i >= at)
      ids[i] = MLM_PAD, seg[i] = 0;
    tgt[i] = ids[i];
    keep[i] = i < at ? 1.0f : 0.0f;
    w[i] = 0.0f;
  }
  s->next[k] = next;
  int64_t pick = cfg->mask > 0 ? (int64_t)llround(cfg->mask * (double)nc) : 0;
  if (cfg->mask > 0 && pick < 1)
    pick = 1;
  if (pick > nc)
    pick = nc;
  for (int64_t i = 0; i < pick; i++) { /* a partial Fisher-Yates shuffle of the candidates */
    int64_t j = i + draw(r, nc - i), p = cand[j];
    cand[j] = cand[i];
    cand[i] = p;
    w[p] = 1.0f;
    double u = nnrt_rng_uniform(r);
    if (u < 0.8)
      ids[p] = MLM_MASK;
    else if (u < 0.9)
      ids[p] = (int32_t)(MLM_SPECIALS + draw(r, nvocab));
  }
}

int nnrt_mlm_build(const char *buf, size_t len, const char *name, const NnrtVocab *v, const NnrtMlmConfig *cfg,
                   NnrtMlmSet *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int64_t T = cfg->len, need = cfg->pairs ? 5 : 3;
  if (T < need || T > 65536 || cfg->copies < 1 || !(cfg->mask >= 0 && cfg->mask <= 1))
    return nnrt_fail(err, errlen, "%s: bad mlm settings (seq %lld, at least %lld; copies %lld; mask %g)", name,
                     (long long)T, (long long)need, (long long)cfg->copies, cfg->mask);
  Corpus c;
  if (split_corpus(buf, len, name, &c, err, errlen) != 0)
    return -1;
  if (encode(&c, v, name, err, errlen) != 0)
    return corpus_free(&c), -1;
  int64_t per = 0; /* samples per pass */
  for (int64_t d = 0; d < c.ndoc; d++)
    per += cfg->pairs ? c.doc[d].n - 1 : c.doc[d].n;
  if (cfg->pairs && (per == 0 || c.ndoc < 2)) {
    int64_t ndoc = c.ndoc, nsent = c.nsent;
    corpus_free(&c);
    return nnrt_fail(err, errlen, "%s: pairs need a document of two sentences and a second document, but the "
                     "file has %lld documents (separated by lines holding a lone %%) of %lld sentences",
                     name, (long long)ndoc, (long long)nsent);
  }
  int64_t n = per * cfg->copies;
  size_t cells = (size_t)(n * T);
  out->n = n;
  out->len = T;
  out->ids = nnrt_alloc(cells * sizeof(int32_t), "mlm samples");
  out->segments = nnrt_alloc(cells * sizeof(int32_t), "mlm samples");
  out->target = nnrt_alloc(cells * sizeof(int32_t), "mlm samples");
  out->keep = nnrt_alloc(cells * sizeof(float), "mlm samples");
  out->weight = nnrt_alloc(cells * sizeof(float), "mlm samples");
  out->next = nnrt_alloc((size_t)n * sizeof(int32_t), "mlm samples");
  int64_t *cand = nnrt_alloc((size_t)T * sizeof *cand, "mlm samples");
  if (!out->ids || !out->segments || !out->target || !out->keep || !out->weight || !out->next || !cand) {
    nnrt_free(cand);
    nnrt_mlm_free(out);
    corpus_free(&c);
    return nnrt_fail(err, errlen, "%s: out of memory for %lld samples of %lld tokens", name, (long long)n,
                     (long long)T);
  }
  NnrtRng r;
  nnrt_rng_seed(&r, cfg->seed);
  int64_t k = 0;
  for (int64_t copy = 0; copy < cfg->copies; copy++)
    for (int64_t d = 0; d < c.ndoc; d++) {
      const Document *doc = &c.doc[d];
      for (int64_t i = 0; i < doc->n - (cfg->pairs ? 1 : 0); i++) {
        const Sentence *a = &c.sent[doc->first + i], *b = NULL;
        int next = 0;
        if (cfg->pairs && nnrt_rng_uniform(&r) < 0.5) {
          b = a + 1, next = 1;
        } else if (cfg->pairs) {
          int64_t o = draw(&r, c.ndoc - 1);
          const Document *other = &c.doc[o < d ? o : o + 1];
          b = &c.sent[other->first + draw(&r, other->n)];
        }
        make_sample(out, k++, &c, a, b, next, cfg, v->n, &r, cand);
      }
    }
  nnrt_free(cand);
  corpus_free(&c);
  return 0;
}
