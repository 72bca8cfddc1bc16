// Writes the expected token ids that tests/unit/test_tokenizer.cpp checks spiketile against:
//   tests/data/tokenizer/bpe_expected.json             GPT-NeoX-20B BPE, by Hugging Face tokenizers
//   tests/data/tokenizer/bpe_added_token_flags_expected.json   the same with lstrip/rstrip/single_word set
//   tests/data/tokenizer/char_expected.json            77-char vocabulary, computed here independently
// The BPE ids come from the `tokenizers` npm package: the Node binding of the Rust library that
// PreTrainedTokenizerFast (and hence SpikeGPT's run.py) uses, so these are the reference ids.
//
// Usage (from this folder): npm ci && node encode_sample.mjs [path/to/shared/data]
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const { Tokenizer } = require('tokenizers')
const tokenizersVersion = require('tokenizers/package.json').version

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '..', '..')
const sharedData = resolve(process.argv[2] ?? join(repoRoot, '..', 'shared', 'data'))
const dataDir = join(repoRoot, 'tests', 'data', 'tokenizer')

// sample.txt holds cases as "#### case: NAME\n" + text + "\n"; the text may itself contain
// newlines, so only a line starting with the header begins the next case.
function readCases(path) {
  const content = readFileSync(path, 'utf8')
  const headerLines = [...content.matchAll(/^#### case: (.*)$/gm)]
  return headerLines.map((match, k) => {
    const textStart = match.index + match[0].length + 1
    const next = k + 1 < headerLines.length ? headerLines[k + 1].index : content.length
    const textEnd = next - 1 // the "\n" that closes the case is not part of its text
    if (content[textEnd] !== '\n') throw new Error(`case ${match[1]} does not end with a newline`)
    return { name: match[1], text: content.slice(textStart, textEnd) }
  })
}

const sampleCases = readCases(join(dataDir, 'sample.txt'))
// The whole file is one more case: long, mixed, with many boundaries between scripts.
sampleCases.push({ name: 'whole_sample_file', text: readFileSync(join(dataDir, 'sample.txt'), 'utf8') })

// One case per line keeps diffs of regenerated files readable.
function writeJson(name, value) {
  const { cases, ...header } = value
  const headerLines = Object.entries(header).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`)
  const caseLines = cases.map((c) => '    ' + JSON.stringify(c)).join(',\n')
  writeFileSync(join(dataDir, name), `{\n${headerLines.join('\n')}\n  "cases": [\n${caseLines}\n  ]\n}\n`)
  console.log(`wrote ${join(dataDir, name)}`)
}

async function encodeCases(tokenizer, cases) {
  const out = []
  for (const { name, text } of cases) {
    const encoding = await tokenizer.encode(text, null, { addSpecialTokens: true })
    const ids = encoding.getIds()
    const decoded = await tokenizer.decode(ids, false)
    out.push({ name, text, nfc: text.normalize('NFC'), ids, decoded })
  }
  return out
}

// ---- GPT-NeoX-20B BPE --------------------------------------------------------------------
const bpeJsonPath = join(sharedData, '20B_tokenizer.json')
const bpeJsonText = readFileSync(bpeJsonPath, 'utf8')
const generator = `scripts/tokenizer_reference/encode_sample.mjs with npm tokenizers@${tokenizersVersion}`

writeJson('bpe_expected.json', {
  generator,
  tokenizer: '20B_tokenizer.json',
  cases: await encodeCases(Tokenizer.fromString(bpeJsonText), sampleCases),
})

// ---- Added-token flags -------------------------------------------------------------------
// 20B_tokenizer.json sets no lstrip / rstrip / single_word, so those code paths get their
// reference from a copy with flags switched on. The C++ test applies the same modifications.
const modifications = [
  { content: '<|endoftext|>', lstrip: true, rstrip: true },
  { content: '<|padding|>', single_word: true },
  { content: '    ', rstrip: true },
]
const modified = JSON.parse(bpeJsonText)
for (const change of modifications) {
  const token = modified.added_tokens.find((t) => t.content === change.content)
  if (!token) throw new Error(`no added token ${JSON.stringify(change.content)}`)
  Object.assign(token, change)
}
const flagCases = [
  'a <|endoftext|> b',
  'x\t<|endoftext|>\n\ny',
  '  <|endoftext|>  <|endoftext|>  ',
  '<|endoftext|><|endoftext|>',
  'word<|padding|> <|padding|>word <|padding|> end',
  '<|padding|>, ok (<|padding|>) _<|padding|> \u00e9<|padding|> 1<|padding|>',
  'e\u0301<|padding|> \u0915\u093c<|padding|>',
  'nbsp\u00a0<|endoftext|>\u3000after',
  'run:' + ' '.repeat(9) + 'x' + ' '.repeat(4) + '\ty' + ' '.repeat(4),
].map((text, k) => ({ name: `flags_${k}`, text }))
writeJson('bpe_added_token_flags_expected.json', {
  generator,
  tokenizer: '20B_tokenizer.json with these added-token fields changed',
  modifications,
  cases: await encodeCases(Tokenizer.fromString(JSON.stringify(modified)), flagCases),
})

// ---- Char vocabulary ---------------------------------------------------------------------
// SpikeGPT's run.py: [stoi.get(c, stoi[' ']) for c in text] over code points, no normalization.
const vocabBytes = readFileSync(join(sharedData, 'vocab_book.json'))
if (vocabBytes[0] !== 0xff || vocabBytes[1] !== 0xfe) throw new Error('vocab_book.json: expected a UTF-16 LE BOM')
const itos = JSON.parse(new TextDecoder('utf-16le').decode(vocabBytes.subarray(2)))
const stoi = new Map(Object.entries(itos).map(([id, ch]) => [ch, Number(id)]))
const unknownId = stoi.get(' ')
writeJson('char_expected.json', {
  generator: 'scripts/tokenizer_reference/encode_sample.mjs (direct lookup in vocab_book.json)',
  vocab_size: stoi.size,
  unknown_id: unknownId,
  cases: sampleCases.map(({ name, text }) => ({
    name,
    text,
    ids: Array.from(text, (ch) => stoi.get(ch) ?? unknownId),
  })),
})
