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
// A FIFO or socket is refused before it is opened: opening one blocks until a peer comes, so a
// `mkfifo notes.txt` would hold every file call on it until the policy timeout (and a limit alert).

/** The interpreter, by absolute path inside the sandbox (PATH there is the agent's to change). */
export const PERL = '/usr/bin/perl';

export const FILE_TOOL_EXIT = { ok: 0, usage: 2, read: 3, write: 4, noEdit: 5 } as const;

// Output on stdout: write/append/str_replace/insert print "<bytes now in the file>\n";
// read prints "F <bytes sent> <1 if more follow> <file size>\n" and the bytes, or for a directory
// "D <entries>\n" and each name followed by a NUL ("/" after directories; a name may hold a newline).
export const FILE_TOOL_PROGRAM = String.raw`
use strict; use warnings;
my ($op, $arg) = @ARGV;
binmode STDIN; binmode STDOUT;
sub fail { my ($code, $msg) = @_; print STDERR "$msg\n"; exit $code; }
my $IN = do { local $/; my $d = <STDIN>; defined $d ? $d : '' };
my $z = index($IN, "\0");
fail(2, 'usage: stdin must start with the path and a NUL') if $z < 0;
my $path = substr($IN, 0, $z); $IN = substr($IN, $z + 1);
sub data_in { return $IN; }
sub not_pipe { my ($p, $code) = @_;
  fail($code, "cannot " . ($code == 3 ? 'read' : 'write') . " $p: it is a " . (-p $p ? 'FIFO (named pipe)' : 'socket') . '; file tools read and write files') if -p $p || -S $p; }
sub whole { my ($p) = @_; not_pipe($p, 3);
  open(my $fh, '<', $p) or fail(3, "cannot read $p: $!");
  binmode $fh; local $/; my $d = <$fh>; close $fh; return defined $d ? $d : ''; }
sub put { my ($p, $d, $how) = @_;
  open(my $fh, $how, $p) or fail(4, "cannot write $p: $!");
  binmode $fh; print {$fh} $d or fail(4, "cannot write $p: $!"); close $fh or fail(4, "cannot write $p: $!"); }
sub line_of { my ($d, $at) = @_; return 1 + (substr($d, 0, $at) =~ tr/\n//); }
fail(2, 'usage: op [arg], stdin: path NUL data') unless defined $op && length $path;
if ($op eq 'write' || $op eq 'append') {
  my $d = data_in();
  if ($path =~ m{\A(.+)/[^/]+\z}s && !-d $1) {
    my $dir = $1; require File::Path; my $err;
    File::Path::make_path($dir, { error => \$err });
    fail(4, "cannot create directory $dir: " . join('; ', map { values %$_ } @$err)) if $err && @$err;
  }
  fail(4, "cannot write $path: Is a directory") if -d $path;
  not_pipe($path, 4);
  put($path, $d, $op eq 'append' ? '>>' : '>');
  print((-s $path) // 0, "\n");
} elsif ($op eq 'read') {
  my $max = defined $arg && $arg =~ /^\d+$/ ? $arg : 1048576;
  if (-d $path) {
    opendir(my $dh, $path) or fail(3, "cannot read $path: $!");
    my @e = sort grep { $_ ne '.' && $_ ne '..' } readdir $dh; closedir $dh;
    print 'D ', scalar(@e), "\n";
    print $_, (-d "$path/$_" ? '/' : ''), "\0" for @e;
    exit 0;
  }
  not_pipe($path, 3);
  open(my $fh, '<', $path) or fail(3, "cannot read $path: $!");
  binmode $fh;
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
  put($path, $d, '>');
  print length($d), "\n";
} elsif ($op eq 'insert') {
  my $text = data_in(); my $d = whole($path);
  fail(2, 'insert: the line must be a whole number') unless defined $arg && $arg =~ /^\d+$/;
  my @l = split /(?<=\n)/, $d; my $count = scalar @l;
  fail(5, "no insertion: line $arg is past the end of $path ($count lines)") if $arg > $count;
  $l[$arg - 1] .= "\n" if $arg > 0 && $l[$arg - 1] !~ /\n\z/;
  $text .= "\n" if length $text && $text !~ /\n\z/ && $arg < $count;
  splice(@l, $arg, 0, $text);
  $d = join('', @l);
  put($path, $d, '>');
  print length($d), "\n";
} else { fail(2, "unknown operation $op"); }
`;
