#!/usr/bin/env python3
# Writes the seed inputs of fuzz_chunk.c into corpus/chunk/ (see its format).
import os
import struct

A = dict(EPOCH_NUMBER=13, BLOCK_SIZE=6, NR_BLOCKS=7, CHUNK=19, CHUNK_START=20,
         CHUNK_BLOCKS=21, CHUNK_WORDS=22, CHUNK_EXTENTS=23, PAD=26)


def attr(t, payload, nested=False):
    hdr = struct.pack('<HH', 4 + len(payload), t | (0x8000 if nested else 0))
    return hdr + payload + b'\0' * (-len(payload) % 4)


def u32(t, v):
    return attr(A[t], struct.pack('<I', v))


def u64(t, v):
    return attr(A[t], struct.pack('<Q', v))


def header(nr_blocks, epoch=5, bs=4096):
    return u64('EPOCH_NUMBER', epoch) + u32('BLOCK_SIZE', bs) + u64('NR_BLOCKS', nr_blocks)


def words(start, blocks, ws):
    body = u64('CHUNK_START', start) + u32('CHUNK_BLOCKS', blocks) + \
        attr(A['CHUNK_WORDS'], b''.join(struct.pack('<Q', w) for w in ws))
    return attr(A['CHUNK'], body, nested=True)


def extents(start, blocks, es):
    body = u64('CHUNK_START', start) + u32('CHUNK_BLOCKS', blocks) + \
        attr(A['CHUNK_EXTENTS'], b''.join(struct.pack('<II', s, n) for s, n in es))
    return attr(A['CHUNK'], body, nested=True)


def seed(nr_blocks, first, second=b''):
    return struct.pack('<QH', nr_blocks, len(first)) + first + second


seeds = {
    'words': seed(100000, header(100000) + words(0, 128, [0xff, 1 << 63])),
    'extents': seed(100000, header(100000) + extents(8192, 8192, [(0, 5), (5, 3), (100, 1)])),
    'across-messages': seed(100000, header(100000) + words(0, 8192, [0] * 127 + [1 << 63]),
                            header(100000) + extents(8192, 8192, [(0, 10)]) +
                            words(16384, 8192, [3] + [0] * 127)),
    'last-chunk': seed(8292, header(8292) + words(8192, 100, [0, 0xf << 32])),
    'unsorted': seed(100000, header(100000) + extents(0, 8192, [(10, 1), (5, 1)])),
    'empty-message': seed(100, header(100)),
}
d = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'chunk')
os.makedirs(d, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)
