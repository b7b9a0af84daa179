package pcap4py.helper;

/**
 * What the printers decoded beyond the record, for the JSON record: the TCP window and options,
 * the ICMP/ICMPv6 description, DNS's id, questions and answers. Text pieces are kept as
 * [start, end) positions in the output the printer wrote (a scratch buffer for JSON); reset per
 * packet, no allocation.
 */
final class Facts {

  static final int MAX_ITEMS = 16;

  int tcpWindow;
  int optionsStart;
  int optionsEnd;
  int icmpStart;
  int icmpEnd;
  int dnsId;
  boolean dnsResponse;
  int dnsRcode;
  int questions;
  int answers;
  final int[] questionStart = new int[MAX_ITEMS];
  final int[] questionEnd = new int[MAX_ITEMS];
  final int[] answerStart = new int[MAX_ITEMS];
  final int[] answerEnd = new int[MAX_ITEMS];

  void reset() {
    tcpWindow = -1;
    optionsStart = -1;
    icmpStart = -1;
    dnsId = -1;
    questions = 0;
    answers = 0;
  }

  void question(int start, int end) {
    if (questions < MAX_ITEMS) {
      questionStart[questions] = start;
      questionEnd[questions++] = end;
    }
  }

  void answer(int start, int end) {
    if (answers < MAX_ITEMS) {
      answerStart[answers] = start;
      answerEnd[answers++] = end;
    }
  }
}
