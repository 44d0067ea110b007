# Applied to gSOAP's custom/struct_timeval.c (2.8.124) when it is copied
# into gen/ (Makefile.am says why): the fraction of a second is read into a
# zeroed 32-byte buffer, at most 30 characters of it, and further digits
# are skipped, so that a long fraction is read as the original server reads
# it (truncated precision) instead of writing past the buffer.
s/char tmp\[32\];/char tmp[32] = "";/
s/for (i = 0; i < 31; i++)/for (i = 0; i < 30; i++)/
s/tmp\[i + 1\] = '\\0';/tmp[i + 1] = '\\0';\
      while (*t >= '0' \&\& *t <= '9') \/* paserver: digits beyond tmp *\/\
        t++;/
