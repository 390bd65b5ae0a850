create table t(a integer primary key, b text, c blob);
with recursive c(x) as (select 1 union all select x+1 from c where x<200000)
  insert into t select x, printf('row %d %s', x, hex(randomblob(16))), zeroblob(x % 300) from c;
create index tb on t(b);
select count(*), sum(length(b)), sum(length(c)) from t;
update t set b = b || '-updated' where a % 3 = 0;
select count(*) from t where b like '%updated%';
