// Ghostscript's input: pages of text in several fonts and sizes and of filled, stroked curves
// (the kind of document the Hoard paper's Table 2 rendered). The document prints a checksum
// of what it computed, so a wrong interpreter result changes the output.
#include <fmt/format.h>

#include "harness/programs/inputs.h"

namespace allocbench::programs {

std::string postscript_document(int64_t scale) {
  Lcg random(7);
  std::string ps = R"(%!PS-Adobe-3.0
%%Title: allocbench generated document
/fonts [/Times-Roman /Helvetica /Courier /Times-Bold /Helvetica-Oblique] def
/checksum 0 def
/addsum { cvi checksum add 1000003 mod /checksum exch def } def
/words [(allocator) (superblock) (heap) (fragmentation) (false) (sharing) (blowup)
        (malloc) (free) (thread) (Hoard) (scalable) (memory) (page) (cache) (line)] def
/line { % n -> builds a line of n words, shows it, adds its width to the checksum
  /n exch def
  /s 400 string def /at 0 def
  0 1 n 1 sub { words length mod words exch get
    dup length at add 390 gt { pop } { dup s exch at exch putinterval length 1 add at add /at exch def } ifelse
  } for
  s 0 at getinterval dup show stringwidth pop addsum
} def
)";
  for (int64_t page = 1; page <= scale; ++page) {
    ps += fmt::format("%%Page: {} {}\n", page, page);
    ps += "gsave\n";
    for (int shape = 0; shape < 60; ++shape) {
      ps += fmt::format("{} setgray newpath {} {} moveto", random.below(100) / 100.0,
                        random.below(600), random.below(780));
      for (int curve = 0; curve < 6; ++curve) {
        ps +=
            fmt::format(" {} {} {} {} {} {} curveto", random.below(600), random.below(780),
                        random.below(600), random.below(780), random.below(600), random.below(780));
      }
      ps += shape % 2 == 0 ? " closepath fill\n" : " 1.5 setlinewidth stroke\n";
    }
    ps += "0 setgray\n";
    for (int row = 0; row < 40; ++row) {
      ps +=
          fmt::format("fonts {} get findfont {} scalefont setfont 36 {} moveto {} line\n",
                      random.below(5), 6 + random.below(10), 760 - row * 18, 5 + random.below(40));
    }
    ps += "grestore showpage\n";
  }
  ps += "%%EOF\n(checksum ) print checksum = flush\n";
  return ps;
}

}  // namespace allocbench::programs
