// Why: an agent's file tools (write a file, view it, replace a string in it, insert lines) change the
// sandbox without a shell, and they must run *inside* the sandbox as the agent's user, not as Corral
// (root) on the host. Threat it stops: a file tool that follows a symlink the agent planted
// (`ln -s /etc/shadow notes.txt`, then "view notes.txt") reading or writing the host's files with
// root's rights. Run in the sandbox, the path is resolved in the sandbox's own mount namespace with
// its uid: the read-only root, hidden secrets and the workspace are exactly what the agent's own
// `cat` would meet. The program is Perl because perl-base is Essential on Debian (always in the
// sandbox's root, like coreutils) and one process does a whole edit; it is a constant text, started
// from an argv array: [perl, -e, PROGRAM, op, arg], with the path, a NUL and the data on stdin (never
// in argv, so nothing the agent wrote is ever parsed as code, and a long path cannot push the
// program's recorded argv past the sensor's cap). Exit codes: 0 done, 2 bad use, 3 cannot read,
// 4 cannot write, 5 the edit does not apply (old text absent or repeated, line out of range).
// A FIFO or socket is refused: opening one blocks until a peer comes, so a `mkfifo notes.txt`
// would hold every file call on it until the policy timeout (and a limit alert). Every open is
// non-blocking and the handle itself is checked (fstat), so a background process that swaps the
// file for a FIFO between a check and the open cannot make the call hang either.
// The program loads no module and perl runs with -f (no sitecustomize.pl): with a writable image
// root the agent owns /etc/perl and /usr/local/share/perl, and a strict.pm or File/Path.pm planted
// there would run its code inside every later file tool call (changing what the trainer reads and
// writes, or starting a miner under Corral's own program). @INC is emptied before anything else.
// An edit (str_replace, insert, append) prints, after the size, the lines around what it changed
// (one more line either side, and the first line for its #!): the screen judges the code as it is
// now, not only the new text, which can be one harmless half of a hostile line.

/** The interpreter, by absolute path inside the sandbox (PATH there is the agent's to change). */
export const PERL = '/usr/bin/perl';

export const FILE_TOOL_EXIT = { ok: 0, usage: 2, read: 3, write: 4, noEdit: 5 } as const;

/** Perl's switches before the program: -f, no sitecustomize.pl (the agent may own perl's library directories). */
export const PERL_SWITCHES = ['-f'] as const;

/** Each message of the program for the agent starts with this on its own line of stderr (a broken locale or a perl warning may add others). */
export const FILE_TOOL_SAYS = 'corral-file-tool: ';

/** The most an edit prints of the lines around what it changed, for the screen. */
export const EDIT_CONTEXT_MAX = 1 << 20;

// Output on stdout: write/append/str_replace/insert print "<bytes now in the file>\n" (an edit
// then the lines around its change, up to EDIT_CONTEXT_MAX bytes);
// read prints "F <bytes sent> <1 if more follow> <file size>\n" and the bytes, or for a directory
// "D <entries>\n" and each name followed by a NUL ("/" after directories; a name may hold a newline).
export const FILE_TOOL_PROGRAM = String.raw`
BEGIN { @INC = (); }
my ($op, $arg) = @ARGV;
binmode STDIN; binmode STDOUT;
sub fail { my ($code, $msg) = @_; print STDERR "${FILE_TOOL_SAYS}$msg\n"; exit $code; }
my $IN = do { local $/; my $d = <STDIN>; defined $d ? $d : '' };
my $z = index($IN, "\0");
fail(2, 'usage: stdin must start with the path and a NUL') if $z < 0;
my $path = substr($IN, 0, $z); $IN = substr($IN, $z + 1);
sub data_in { return $IN; }
sub pipe_fail { my ($p, $code, $what) = @_;
  fail($code, "cannot " . ($code == 3 ? 'read' : 'write') . " $p: it is a $what; file tools read and write files"); }
# (open flags of Linux, as numbers: no Fcntl, nothing is loaded)
my ($RD, $WR, $CREAT, $TRUNC, $APPEND, $NONBLOCK, $ENXIO) = (0, 1, 64, 512, 1024, 2048, 6);
sub xopen { my ($p, $flags, $code) = @_;
  pipe_fail($p, $code, -p $p ? 'FIFO (named pipe)' : 'socket') if -p $p || -S $p;
  my $fh;
  unless (sysopen($fh, $p, $flags | $NONBLOCK, 0666)) {
    pipe_fail($p, $code, 'FIFO (named pipe) or socket') if $! + 0 == $ENXIO;
    fail($code, "cannot " . ($code == 3 ? 'read' : 'write') . " $p: $!");
  }
  pipe_fail($p, $code, -p $fh ? 'FIFO (named pipe)' : 'socket') if -p $fh || -S $fh;
  fcntl($fh, 4, $flags) or fail($code, "cannot " . ($code == 3 ? 'read' : 'write') . " $p: $!");
  binmode $fh; return $fh; }
sub whole { my ($p) = @_; my $fh = xopen($p, $RD, 3);
  fail(3, "cannot read $p: Is a directory") if -d $fh;
  local $/; my $d = <$fh>; fail(3, "cannot read $p: $!") unless defined $d || eof $fh; close $fh; return defined $d ? $d : ''; }
sub put { my ($p, $d, $flags) = @_; my $fh = xopen($p, $WR | $CREAT | $flags, 4);
  print {$fh} $d or fail(4, "cannot write $p: $!"); close $fh or fail(4, "cannot write $p: $!"); }
sub line_of { my ($d, $at) = @_; return 1 + (substr($d, 0, $at) =~ tr/\n//); }
# The lines of $d around bytes [$s, $e): one more line either side, and the first line when not among them.
sub around { my ($d, $s, $e) = @_;
  my $lo = $s > 0 ? rindex($d, "\n", $s - 1) + 1 : 0;
  $lo = $lo > 1 ? rindex($d, "\n", $lo - 2) + 1 : 0;
  my $hi = index($d, "\n", $e > $s ? $e - 1 : $s);
  $hi = $hi < 0 ? length $d : index($d, "\n", $hi + 1);
  $hi = $hi < 0 ? length $d : $hi + 1;
  $hi = $lo + ${EDIT_CONTEXT_MAX} if $hi - $lo > ${EDIT_CONTEXT_MAX};
  my $first = '';
  if ($lo > 0) { my $n = index($d, "\n"); $first = $n >= 0 && $n < 255 ? substr($d, 0, $n + 1) : substr($d, 0, 255) . "\n"; }
  return $first . substr($d, $lo, $hi - $lo); }
sub mkpath { my ($dir) = @_; my $p = '';
  for my $part (split m{/}, $dir) { next if $part eq ''; $p .= "/$part"; next if -d $p;
    mkdir($p) or -d $p or fail(4, "cannot create directory $p: $!"); } }
fail(2, 'usage: op [arg], stdin: path NUL data') unless defined $op && length $path;
if ($op eq 'write' || $op eq 'append') {
  my $d = data_in();
  mkpath($1) if $path =~ m{\A(.+)/[^/]+\z}s && !-d $1;
  fail(4, "cannot write $path: Is a directory") if -d $path;
  if ($op eq 'append') {
    # (the end of the file as it was, so an append that finishes a line is screened with that line)
    my $tail = '';
    my $fh;
    if (-f $path && sysopen($fh, $path, $RD | $NONBLOCK)) {
      if (-f $fh) { my $size = -s $fh; sysseek($fh, $size > 65536 ? $size - 65536 : 0, 0); sysread($fh, $tail, 65536); }
      close $fh; }
    put($path, $d, $APPEND);
    print((-s $path) // 0, "\n", around($tail . $d, length $tail, length($tail) + length $d));
  } else {
    put($path, $d, $TRUNC);
    print((-s $path) // 0, "\n");
  }
} elsif ($op eq 'read') {
  my $max = defined $arg && $arg =~ /^\d+$/ ? $arg : 1048576;
  if (-d $path) {
    opendir(my $dh, $path) or fail(3, "cannot read $path: $!");
    my @e = sort grep { $_ ne '.' && $_ ne '..' } readdir $dh; closedir $dh;
    print 'D ', scalar(@e), "\n";
    # (whole names only, up to max bytes: the caller counts them against the total)
    my $sent = 0;
    for (@e) { my $n = $_ . (-d "$path/$_" ? '/' : '') . "\0"; last if $sent + length $n > $max; print $n; $sent += length $n; }
    exit 0;
  }
  my $fh = xopen($path, $RD, 3);
  my $size = -s $fh; my $buf = ''; my $got = 0;
  while ($got < $max) {
    my $n = sysread($fh, $buf, ($max - $got > 65536 ? 65536 : $max - $got), $got);
    fail(3, "cannot read $path: $!") unless defined $n;
    last if $n == 0; $got += $n;
  }
  my $x; my $more = sysread($fh, $x, 1) ? 1 : 0;
  print "F $got $more ", ($size // 0), "\n", $buf;
} elsif ($op eq 'str_replace') {
  my $in = data_in();
  $in =~ /^(\d+)\n/ or fail(2, 'str_replace: input must start with the old text length');
  my $n = $1; my $old = substr($in, length($n) + 1, $n); my $new = substr($in, length($n) + 1 + $n);
  fail(5, "no replacement: the old text is empty") if $n == 0;
  my $d = whole($path);
  my @at; my $i = index($d, $old);
  while ($i >= 0) { push @at, $i; $i = index($d, $old, $i + length $old); }
  fail(5, "no replacement: the old text does not appear verbatim in $path") unless @at;
  fail(5, 'no replacement: the old text appears ' . scalar(@at) . " times in $path (lines " . join(', ', map { line_of($d, $_) } @at[0 .. ($#at < 9 ? $#at : 9)]) . '); it must be unique') if @at > 1;
  substr($d, $at[0], length $old) = $new;
  put($path, $d, $TRUNC);
  print length($d), "\n", around($d, $at[0], $at[0] + length $new);
} elsif ($op eq 'insert') {
  my $text = data_in(); my $d = whole($path);
  fail(2, 'insert: the line must be a whole number') unless defined $arg && $arg =~ /^\d+$/;
  my @l = split /(?<=\n)/, $d; my $count = scalar @l;
  fail(5, "no insertion: line $arg is past the end of $path ($count lines)") if $arg > $count;
  $l[$arg - 1] .= "\n" if $arg > 0 && $l[$arg - 1] !~ /\n\z/;
  $text .= "\n" if length $text && $text !~ /\n\z/ && $arg < $count;
  my $s = 0; $s += length $l[$_] for 0 .. $arg - 1;
  splice(@l, $arg, 0, $text);
  $d = join('', @l);
  put($path, $d, $TRUNC);
  print length($d), "\n", around($d, $s, $s + length $text);
} else { fail(2, "unknown operation $op"); }
`;
