import { describe, expect, it } from 'vitest';
import {
  type DefaultContext,
  portableMysqlDefault,
  stripDefiner,
  stripSchemaQualifier,
} from './mysql-introspector.js';
import { mysqlLockName } from './mysql-lock.js';

const maria = (dataType: string, boolean = false): DefaultContext => ({
  flavor: 'mariadb',
  dataType,
  extra: '',
  boolean,
});
const mysql8 = (dataType: string, extra = '', boolean = false): DefaultContext => ({
  flavor: 'mysql',
  dataType,
  extra,
  boolean,
});

describe('portableMysqlDefault', () => {
  it('reads MariaDB spellings', () => {
    expect(portableMysqlDefault(null, maria('int'))).toBeUndefined();
    expect(portableMysqlDefault('NULL', maria('varchar'))).toBeUndefined();
    expect(portableMysqlDefault("'NULL'", maria('varchar'))).toBe("'NULL'");
    expect(portableMysqlDefault("'it''s'", maria('varchar'))).toBe("'it''s'");
    expect(portableMysqlDefault("'a\\\\b\\nc'", maria('varchar'))).toBe("'a\\b\nc'");
    expect(portableMysqlDefault("''", maria('varchar'))).toBe("''");
    expect(portableMysqlDefault('0.00', maria('decimal'))).toBe('0');
    expect(portableMysqlDefault('1', maria('tinyint', true))).toBe('true');
    expect(portableMysqlDefault('0', maria('tinyint', true))).toBe('false');
    expect(portableMysqlDefault('current_timestamp(6)', maria('timestamp'))).toBe('CURRENT_TIMESTAMP');
    expect(portableMysqlDefault('current_timestamp()', maria('datetime'))).toBe('CURRENT_TIMESTAMP');
    expect(portableMysqlDefault('(1 + 2)', maria('int'))).toBe('(1 + 2)');
    expect(portableMysqlDefault('uuid()', maria('char'))).toBe('uuid()');
  });

  it('reads MySQL 8 spellings (bare literals, DEFAULT_GENERATED expressions)', () => {
    expect(portableMysqlDefault(null, mysql8('varchar'))).toBeUndefined();
    expect(portableMysqlDefault('untitled', mysql8('varchar'))).toBe("'untitled'");
    expect(portableMysqlDefault("it's", mysql8('varchar'))).toBe("'it''s'");
    expect(portableMysqlDefault('', mysql8('varchar'))).toBe("''");
    expect(portableMysqlDefault('2020-01-01', mysql8('date'))).toBe("'2020-01-01'");
    expect(portableMysqlDefault('0.00', mysql8('decimal'))).toBe('0');
    expect(portableMysqlDefault('1', mysql8('tinyint', '', true))).toBe('true');
    expect(portableMysqlDefault('CURRENT_TIMESTAMP(6)', mysql8('timestamp', 'DEFAULT_GENERATED'))).toBe(
      'CURRENT_TIMESTAMP',
    );
    expect(portableMysqlDefault("_utf8mb4\\'x\\'", mysql8('longtext', 'DEFAULT_GENERATED'))).toBe("'x'");
    expect(portableMysqlDefault('(1 + 2)', mysql8('int', 'DEFAULT_GENERATED'))).toBe('(1 + 2)');
    expect(portableMysqlDefault("b'1'", mysql8('bit'))).toBe("b'1'");
    // MySQL 8 escapes the quotes inside expression text.
    expect(portableMysqlDefault("concat(_utf8mb4\\'a\\',`x`)", mysql8('varchar', 'DEFAULT_GENERATED'))).toBe(
      "concat(_utf8mb4'a',`x`)",
    );
  });
});

describe('SHOW CREATE clean-up', () => {
  it('strips the schema qualifier outside strings', () => {
    expect(
      stripSchemaQualifier(
        "select `shop`.`t`.`id` AS `id`, '`shop`.' AS s from `shop`.`t` join `shopx`.`u`",
        'shop',
      ),
    ).toBe("select `t`.`id` AS `id`, '`shop`.' AS s from `t` join `shopx`.`u`");
  });

  it('strips the DEFINER clause and nothing in the body', () => {
    expect(
      stripDefiner(
        'CREATE DEFINER=`root`@`localhost` TRIGGER `t` BEFORE INSERT ON `x` FOR EACH ROW SET @a = 1',
      ),
    ).toBe('CREATE TRIGGER `t` BEFORE INSERT ON `x` FOR EACH ROW SET @a = 1');
    expect(stripDefiner("CREATE DEFINER='app'@'%' PROCEDURE `p`() SELECT 'DEFINER=x'")).toBe(
      "CREATE PROCEDURE `p`() SELECT 'DEFINER=x'",
    );
    expect(stripDefiner('CREATE FUNCTION `f`() RETURNS int RETURN 1')).toBe(
      'CREATE FUNCTION `f`() RETURNS int RETURN 1',
    );
  });
});

describe('mysqlLockName', () => {
  it('scopes GET_LOCK names by database and keeps them within 64 characters', () => {
    expect(mysqlLockName('shop', 'cmpkg')).toBe('cmpkg:shop:cmpkg');
    const long = mysqlLockName('d'.repeat(64), 'cmpkg');
    expect(long).toHaveLength(64);
    expect(long.startsWith('cmpkg:')).toBe(true);
    expect(mysqlLockName('d'.repeat(64), 'cmpkg')).toBe(long);
    expect(mysqlLockName('e'.repeat(64), 'cmpkg')).not.toBe(long);
  });
});
