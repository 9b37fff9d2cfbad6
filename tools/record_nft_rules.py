#!/usr/bin/env python3
"""Records the kernel's nftables rule dump (NFT_MSG_GETRULE, NLM_F_DUMP) of the
calling network namespace as raw netlink bytes, for portrel's port-forward
parser tests (tests/data/nft_*.bin). Run as root, usually inside a namespace
made for the purpose:

    unshare -n sh -c 'nft -f RULES; python3 tools/record_nft_rules.py OUT.bin'
"""
import socket
import struct
import sys

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_GETRULE = 7
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3


def main(out_path):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.bind((0, 0))
    body = struct.pack("BBH", 0, 0, 0)  # nfgenmsg: every family
    header = struct.pack("IHHII", 16 + len(body), NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETRULE,
                         NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    s.send(header + body)
    dump = b""
    while True:
        data = s.recv(65536)
        at = 0
        while at + 16 <= len(data):
            length, kind = struct.unpack_from("IH", data, at)
            if kind == NLMSG_ERROR:
                sys.exit("nftables dump refused: errno %d" % -struct.unpack_from("i", data, at + 16)[0])
            dump += data[at:at + ((length + 3) & ~3)]
            if kind == NLMSG_DONE:
                open(out_path, "wb").write(dump)
                return
            at += (length + 3) & ~3


if __name__ == "__main__":
    main(sys.argv[1])
